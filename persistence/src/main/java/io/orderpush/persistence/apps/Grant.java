package io.orderpush.persistence.apps;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** A merchant's authorization of an app; {@code startSeq} is the channel's first cursor. */
public record Grant(UUID appId, String merchantId, List<String> scopes, long startSeq, Instant grantedAt) {}
