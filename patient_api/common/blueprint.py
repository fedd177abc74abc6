"""The project's Blueprint: query strings are parsed as strictly as bodies."""
import flask_smorest
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    """Let each schema's Meta.unknown decide, instead of webargs silently dropping unknown query keys."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: None for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with the strict parser."""

    ARGUMENTS_PARSER = StrictParser()
