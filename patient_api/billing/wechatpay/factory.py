"""Pick the client for the configured mode; in sandbox mode, share one throwaway key bundle via the store."""
from dataclasses import replace

from .live import LiveClient
from .sandbox import DEFAULT_NAMESPACE, SandboxClient
from .testkeys import generate_test_keys


def bundle_key(namespace=DEFAULT_NAMESPACE):
    """Where the store keeps the sandbox key bundle."""
    return namespace + "keys"


def sandbox_keys(store, namespace=DEFAULT_NAMESPACE):
    """The sandbox key bundle, generated once and kept in the store so every process signs and verifies alike."""
    key = bundle_key(namespace)
    bundle = store.get(key)
    if bundle is not None:
        return bundle
    fresh = generate_test_keys()
    add = getattr(store, "add", None)
    if add is None:
        store.set(key, fresh)
        return fresh
    add(key, fresh)
    return store.get(key)  # whoever added first wins; everyone reads the winner


def sandbox_settings(settings, store, namespace=DEFAULT_NAMESPACE):
    """(settings, platform private key PEM) for sandbox mode: platform keys and APIv3 key come from the bundle."""
    bundle = sandbox_keys(store, namespace)
    # Configured platform keys are WeChat's and useless here (we cannot sign with WeChat's private key),
    # so the sandbox always uses its own pair; a configured merchant key is kept for realistic paySign.
    filled = replace(
        settings,
        apiv3_key=bundle["apiv3_key"],
        platform_public_key_pem=bundle["platform_public_key_pem"],
        platform_public_key_id=bundle["platform_public_key_id"],
        merchant_private_key_pem=settings.merchant_private_key_pem or bundle["merchant_private_key_pem"],
        merchant_cert_serial_no=settings.merchant_cert_serial_no or bundle["merchant_cert_serial_no"],
    )
    return filled, bundle["platform_private_key_pem"]


def build_client(settings, store, clock=None):
    """(effective settings, PayClient): LiveClient in live mode, SandboxClient on the store otherwise."""
    if settings.is_live:
        return settings, LiveClient(settings)
    filled, platform_private_key_pem = sandbox_settings(settings, store)
    extra = {} if clock is None else {"clock": clock}
    return filled, SandboxClient(filled, store, platform_private_key_pem, **extra)
