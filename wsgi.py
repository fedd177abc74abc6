"""WSGI entry point for gunicorn and the flask CLI."""
from patient_api import create_app

app = create_app()
