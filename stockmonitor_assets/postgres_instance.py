"""The production instance's event log: dagster-postgres' own, which writes batches natively,
with partitioned checks' planned rows serialized once (`instance.OnceSerializedCheckPlans`).

Named in the repo root's `dagster.yaml`; kept apart from `instance.py` so that the embedded
instance does not import dagster-postgres.
"""

import dagster_postgres.event_log.event_log as postgres
from dagster._serdes import ConfigurableClassData

from stockmonitor_assets.instance import OnceSerializedCheckPlans


class PostgresEventLogStorage(OnceSerializedCheckPlans, postgres.PostgresEventLogStorage):
    """dagster-postgres' event log (which batches natively) with once-serialized check plans."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: dict
    ) -> "PostgresEventLogStorage":
        return cls(
            inst_data=inst_data,
            postgres_url=postgres.pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=postgres.get_token_provider_from_config(config_value),
        )
