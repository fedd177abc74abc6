"""The app's JSON answers encoded by orjson: the text the standard provider writes, for a fraction of its CPU.

A page of 20 report summaries took a tenth of a list read's CPU through the standard library's encoder
(docs/performance.md). Options keep the answer as Flask's provider writes it here: keys sorted, compact, UTF-8
(JSON_AS_ASCII is off), times and dataclasses through Flask's own `default` (http_date, as before). Anything orjson
refuses (an integer past 64 bits, a key that is not text) goes through the standard provider instead, so no answer
changes from a 200 to a 500; pretty-printing in debug stays the standard provider's.
"""
import orjson
from flask.json.provider import DefaultJSONProvider

OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
           | orjson.OPT_APPEND_NEWLINE)


class FastJSONProvider(DefaultJSONProvider):
    """DefaultJSONProvider whose answers (response, jsonify) are encoded by orjson."""

    def response(self, *args, **kwargs):
        """A JSON answer of the arguments, as jsonify() takes them."""
        if (self.compact is False or (self.compact is None and self._app.debug) or not self.sort_keys
                or self.ensure_ascii):
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(obj, default=self.default, option=OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: let the standard encoder say what it makes of it
            return super().response(*args, **kwargs)
        return self._app.response_class(body, mimetype=self.mimetype)
