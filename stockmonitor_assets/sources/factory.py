"""Build the configured market-data provider: demo, rqdatac, files or a plug-in.

Providers are imported lazily, so choosing the demo never imports the RQDatac SDK, and
a misconfiguration (unknown kind, missing credentials or directory) fails here, before
any data call, with a message naming the setting to fix. A plug-in source is a callable
registered in the entry point group `stockmonitor.sources` (plugins.py) under the name
STOCKMONITOR_SOURCE selects; what it returns must implement `MarketDataSource`, and its
frames meet the same contracts at write as the built-in sources'.
"""

from pathlib import Path

from stockmonitor_assets import plugins, settings
from stockmonitor_assets.sources.base import MarketDataSource
from stockmonitor_assets.sources.files_layout import DEFAULT_LIMITS, FileLimits


def build_source(
    kind: str,
    *,
    demo_seed: int = settings.DEFAULT_DEMO_SEED,
    universe_size: int = settings.DEFAULT_UNIVERSE_SIZE,
    files_dir: str | Path | None = None,
    files_limits: FileLimits = DEFAULT_LIMITS,
    cache_dir: str | Path | None = None,
    demo_cache_dir: str | Path | None = None,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    base_url: str | None = None,
) -> MarketDataSource:
    """The provider named `kind`; settings that do not apply to it are ignored. `cache_dir`
    is RQDatac's response cache, `demo_cache_dir` the demo's simulated years (None: none).

    Raises:
        ValueError: unknown kind, or `files` without a directory.
        base.AuthenticationError: `rqdatac` without a license key or username/password.
    """
    kind = kind.strip().lower()
    if kind == "demo":
        from stockmonitor_assets.sources.demo import DemoMarket

        return DemoMarket(
            seed=demo_seed,
            universe_size=universe_size,
            cache_dir=Path(demo_cache_dir) if demo_cache_dir else None,
        )
    if kind == "rqdatac":
        from stockmonitor_assets.sources.ricequant import Credentials, RiceQuantSource

        credentials = Credentials.from_settings(api_key, username, password, base_url)
        return RiceQuantSource(credentials, cache_dir=Path(cache_dir) if cache_dir else None)
    if kind == "files":
        from stockmonitor_assets.sources.files import FilesSource

        if not files_dir:
            raise ValueError(f"source 'files' needs a directory: set {settings.FILES_DIR}")
        return FilesSource(Path(files_dir), files_limits)
    factory = plugins.source_factory(kind)
    if factory is not None:
        return _plugin_source(kind, factory)
    known = [*settings.SOURCES, *plugins.source_names()]
    raise ValueError(f"unknown source kind {kind!r}; valid kinds: {known}")


def _plugin_source(kind: str, factory) -> MarketDataSource:
    """The source a plug-in builds, or PluginError naming it when it fails or is no source."""
    try:
        source = factory()
    except Exception as error:  # the user's code
        raise plugins.PluginError(
            f"source plug-in {kind!r} raised {type(error).__name__}: {error}"
        ) from error
    if not isinstance(source, MarketDataSource):
        members = [*MarketDataSource.__annotations__, *vars(MarketDataSource)]
        missing = [m for m in members if not m.startswith("_") and not hasattr(source, m)]
        raise plugins.PluginError(
            f"source plug-in {kind!r} returned {type(source).__name__}, which lacks {missing} "
            "of the MarketDataSource interface (sources/base.py)"
        )
    return source
