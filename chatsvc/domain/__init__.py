"""The chat rules: who may do what, and which events an action makes."""
