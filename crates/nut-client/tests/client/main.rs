//! nut-client against servers: `mock` scripts the server's bytes in the test (framing,
//! reply checks, timeouts, TLS); `stock` runs stock NUT 2.8.0's upsd and dummy-ups.

mod mock;
mod stock;
mod tls;
