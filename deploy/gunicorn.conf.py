"""gunicorn settings for Plan Tracker: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Web workers never start the scheduler; run ``flask --app wsgi tracker scheduler`` as
exactly one separate process (see plan-tracker-scheduler.service).
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
timeout = 60            # report generation runs in the background, never in a request
graceful_timeout = 30
keepalive = 5
max_requests = 5000     # recycle workers now and then (bounded memory growth)
max_requests_jitter = 500
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
preload_app = False     # each worker opens its own database connections
