"""What a Dagster error says about its cause: the one home of error-chain unwrapping."""

STEP_WRAPPER = "DagsterExecutionStepExecutionError"


def user_error(error) -> str:
    """The error the step raised, not Dagster's "Error occurred while executing op" wrapper
    around it (whose own message says nothing about the cause), and that error's causes
    (Dagster also wraps a failed write, e.g. a broken contract, in its own error)."""
    while error.cls_name == STEP_WRAPPER and error.cause is not None:
        error = error.cause
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return " <- caused by: ".join(messages)


def root_cause(error):
    """The innermost error of the chain: what broke, for a one-line message (the CLI's)."""
    while error.cause is not None:
        error = error.cause
    return error
