"""gunicorn settings for every service's web process, from the environment.

Use: gunicorn -c python:servicekit.gunicorn_conf 'identity.app:create_app()'
The app factory runs in each worker after the fork, so no connection crosses a fork.
"""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs each request as JSON, with its request id
errorlog = "-"
loglevel = os.environ.get("DANBIO_LOG_LEVEL", "info").lower()
limit_request_line = 8190
limit_request_field_size = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
