"""`python -m api.shard_server --index PATH --port PORT`: one replica of an index shard (api/shard.py)."""

from api.shard import main

if __name__ == "__main__":
    main()
