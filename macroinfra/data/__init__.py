"""The point-in-time data layer: idempotent bulk writes, as-of reads, demo data.

Everything here takes its database as an argument (a macroinfra Database, a SQLAlchemy
connection or a psycopg connection) and returns dataclasses.
"""
