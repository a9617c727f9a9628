"""Reading and plotting reflexd's per-step trace (config `trace`, docs/OPERATIONS.md)."""
