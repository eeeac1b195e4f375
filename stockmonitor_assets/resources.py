"""Dagster resources: the market-data source, built from `settings_resource.Settings` only."""

from collections.abc import Mapping
from typing import Any, TypeVar

import dagster as dg
from pydantic import PrivateAttr

from stockmonitor_assets import settings, settings_resource
from stockmonitor_assets.sources.base import MarketDataSource
from stockmonitor_assets.sources.retry import RetryingSource

R = TypeVar("R", bound=dg.ConfigurableResource)


class MarketDataResource(dg.ConfigurableResource):
    """Where bars, instruments and fundamentals come from (STOCKMONITOR_SOURCE)."""

    source: str = "demo"
    demo_seed: int = settings.DEFAULT_DEMO_SEED
    universe_size: int = settings.DEFAULT_UNIVERSE_SIZE
    files_dir: str | None = None
    files_max_rows: int = settings.DEFAULT_FILES_MAX_ROWS
    files_max_mb: int = settings.DEFAULT_FILES_MAX_MB
    cache_dir: str | None = None
    demo_cache_dir: str | None = None
    rqdatac_api_key: str | None = None
    rqdatac_username: str | None = None
    rqdatac_password: str | None = None
    rqdatac_base_url: str | None = None

    _client: MarketDataSource | None = PrivateAttr(default=None)

    def client(self) -> MarketDataSource:
        """The provider, built once per resource instance (and so once per run process)."""
        if self._client is None:
            from stockmonitor_assets.sources.factory import build_source
            from stockmonitor_assets.sources.files_layout import FileLimits

            provider = build_source(
                self.source,
                demo_seed=self.demo_seed,
                universe_size=self.universe_size,
                files_dir=self.files_dir,
                files_limits=FileLimits(self.files_max_rows, self.files_max_mb),
                cache_dir=self.cache_dir,
                demo_cache_dir=self.demo_cache_dir,
                api_key=self.rqdatac_api_key,
                username=self.rqdatac_username,
                password=self.rqdatac_password,
                base_url=self.rqdatac_base_url,
            )
            # RQDatac retries each SDK call itself; the local providers get the same here.
            self._client = provider if provider.name == "rqdatac" else RetryingSource(provider)
        return self._client


def market_data_from(config: settings_resource.Settings) -> MarketDataResource:
    """The resource as the settings describe it; secrets stay `EnvVar`s (hidden in the UI)."""
    return MarketDataResource(
        source=config.source,
        demo_seed=config.demo_seed,
        universe_size=config.universe_size,
        files_dir=config.files_dir,
        files_max_rows=config.files_max_rows,
        files_max_mb=config.files_max_mb,
        cache_dir=str(config.cache_dir),
        demo_cache_dir=str(config.demo_cache_dir),
        **rqdatac_login(config),
    )


def rqdatac_login(config: settings_resource.Settings) -> dict[str, Any]:
    """RQDatac's server and the secrets that are set, as `EnvVar`s (runs and validate)."""
    secrets = {
        field: dg.EnvVar(var)
        for field, var in zip(
            ("rqdatac_api_key", "rqdatac_username", "rqdatac_password"),
            settings.RQDATAC_SECRETS,
            strict=True,
        )
        if var in config.secrets_set
    }
    return {"rqdatac_base_url": config.rqdatac_base_url, **secrets}


def fixed_by_environment(
    resources: Mapping[str, dg.ConfigurableResource],
) -> dict[str, dg.ResourceDefinition]:
    """Each resource with the configuration it was built with, and an empty config schema.

    Dagster's UI has no login, and Pythonic resources take their values as *defaults* that
    a run's config may override: anyone who reaches the UI could launch a run pointing
    `database.host`, `market_data.rqdatac_base_url` or `io_manager.base_dir` at their own
    server, with the credentials attached as `{env: ...}`. Fixed here, such a run is refused
    before it starts (Dagster's config check names the field: "Received unexpected config
    entries ... at path root:resources:<name>:config"). Secrets stay `{env: NAME}`, resolved
    in the run process and never shown.
    """
    return {name: _fixed(resource) for name, resource in resources.items()}


def _fixed(resource: dg.ConfigurableResource) -> dg.ResourceDefinition:
    config = _launch_config(resource)
    return dg.configured(type(resource), config_schema={})(lambda _: config)


def as_a_run_reads_it(resource: R) -> R:
    """`resource` with each `EnvVar` replaced by its value, read as Dagster reads it for a
    run: raw (not trimmed). `stockmonitor validate` checks this very object, so it accepts
    exactly the secrets and settings runs will use.
    """
    values = {
        name: value.get_value() if isinstance(value, dg.EnvVar) else value
        for name, value in _given_values(resource).items()
    }
    return type(resource)(**values)


def _launch_config(resource: dg.ConfigurableResource) -> dict[str, Any]:
    """The values the resource was built with, as run config: an `EnvVar` is `{env: NAME}`."""
    return {
        name: {"env": value.env_var_name} if isinstance(value, dg.EnvVar) else value
        for name, value in _given_values(resource).items()
    }


def _given_values(resource: dg.ConfigurableResource) -> dict[str, Any]:
    """The fields set when the resource was built (an `EnvVar` stays one)."""
    return {name: getattr(resource, name) for name in resource.model_dump(exclude_unset=True)}
