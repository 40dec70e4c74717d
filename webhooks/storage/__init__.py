"""The service's storage: every table in schema.py; the durable inbox, the
assessment history and the adapters' state store on SQLAlchemy Core (SQLite by
default, PostgreSQL to scale out); engine.py makes the database engine."""
