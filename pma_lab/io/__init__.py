"""The client's files in, a typed client out: tables, lots, profile, holdings."""
