package io.orderpush.gateway.config;

/**
 * Ingest across nodes: whether a node forwards ingest batches to the cluster's writer node, and the
 * base URL the other nodes reach this one at.
 *
 * @param enabled forward batches to the writer (the live node with the smallest id) when there are
 *     several nodes; false: every node writes what it takes
 * @param advertiseUrl this node's base URL for the others (scheme, host, port), or null when it
 *     cannot be told (port 0): the node then writes what it takes and is never the writer
 * @param commitFeed the writer sends its committed events whole to the other nodes, which follow
 *     it, so their channels need not read every event back from PostgreSQL (false: head notices
 *     only)
 */
public record ForwardConfig(boolean enabled, String advertiseUrl, boolean commitFeed) {}
