"""Fan-out: who receives an event, and the per-subscriber buffers."""
