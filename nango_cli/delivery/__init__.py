"""Putting webhooks on the wire: the attempt contract, retry policies and the circuit
breaker, the senders (httpx, aiohttp, a mock) behind one `Sender` protocol, and the
outbox that records every webhook before it is sent."""
