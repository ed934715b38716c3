package io.orderpush.gateway.config;

/**
 * The operator's bounds on app drills (docs/drills.md); a drill's own settings must stay inside.
 *
 * @param maxRate events per second a drill may offer at most
 * @param maxDurationS seconds a drill may run at most, drain included
 * @param maxEvents events a drill's population may hold at most
 * @param maxRunning drills running at once in the whole cluster
 */
public record DrillLimits(int maxRate, int maxDurationS, long maxEvents, int maxRunning) {}
