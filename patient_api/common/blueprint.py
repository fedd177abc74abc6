"""The project's Blueprint: query strings are parsed as strictly as bodies."""
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import BaseConverter

from . import inputs


class StrictParser(FlaskParser):
    """Let each schema's Meta.unknown decide, instead of webargs silently dropping unknown query keys."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: None for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}

    def _raw_load_json(self, req):
        """Bodies go through the one strict JSON reader (surrogates, depth, huge numbers are a 400)."""
        if not is_json_request(req):
            return core.missing
        if not req.get_data(cache=True):
            return core.missing  # no body at all: the schema reports what is missing
        return inputs.request_json(req)


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
