"""The WeChat official-account channel: callbacks, menu, OAuth, access token, template messages, JS-SDK."""
