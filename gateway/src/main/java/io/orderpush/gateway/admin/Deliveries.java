package io.orderpush.gateway.admin;

import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.websocket.StreamService;
import java.util.UUID;

/** Tells both transports about grant changes; each acts only on the apps it serves. */
public record Deliveries(StreamService streams, CallbackService callbacks) {

  void granted(UUID appId, String merchantId, long startSeq) {
    streams.granted(appId, merchantId, startSeq);
    callbacks.granted(appId, merchantId, startSeq);
  }

  void revoked(UUID appId, String merchantId) {
    streams.revoked(appId, merchantId);
    callbacks.revoked(appId, merchantId);
  }
}
