"""Storage: SQLModel tables and the queries the chat rules need."""
