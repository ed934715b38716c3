package io.orderpush.gateway.admin;

import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.persistence.apps.Grant;
import java.util.UUID;

/** Tells both transports about grant changes; each acts only on the apps it serves. */
public record Deliveries(StreamService streams, CallbackService callbacks) {

  void granted(Grant grant) {
    streams.granted(grant);
    callbacks.granted(grant);
  }

  void revoked(UUID appId, String merchantId) {
    streams.revoked(appId, merchantId);
    callbacks.revoked(appId, merchantId);
  }
}
