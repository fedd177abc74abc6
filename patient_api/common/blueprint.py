"""The project's Blueprint: query strings are parsed as strictly as bodies."""
import flask_smorest
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter


class StrictParser(FlaskParser):
    """Let each schema's Meta.unknown decide, instead of webargs silently dropping unknown query keys."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: None for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with the strict parser."""

    ARGUMENTS_PARSER = StrictParser()


class IdConverter(BaseConverter):
    """Path ids: our opaque ids look like 'apt_...'; anything else cannot exist, so it is a plain 404."""

    regex = r"[A-Za-z0-9_.-]{1,64}"


def register_id_converter(app, api):
    """Make `<id:name>` available in routes and documented in the OpenAPI document."""
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, lambda _converter: {"type": "string", "pattern": f"^{IdConverter.regex}$"})
