"""The reference bank: a hand-written implementation of the source policy (see bank/README.md)."""
