"""The options of `nango-hooks fire`, in the help's sections (fire_cmd.py uses them)."""

from typing import Annotated

import typer

from nango_cli.cli.common import complete_syncs

SYNC = "Sync webhooks"
OTHER = "Other webhook types"
SEND = "Signing and sending"
LOAD = "Load mode"

SyncOption = Annotated[
    str | None,
    typer.Option(
        "--sync",
        "-s",
        metavar="NAME",
        help="Sync name; fires its completion webhook (one per model).",
        autocompletion=complete_syncs,
        rich_help_panel=SYNC,
    ),
]
ConnectionOption = Annotated[
    str | None,
    typer.Option("--connection", "-c", metavar="ID", help="connectionId.", rich_help_panel=SYNC),
]
IntegrationOption = Annotated[
    str | None,
    typer.Option(
        "--integration",
        "-i",
        metavar="KEY",
        help="providerConfigKey.",
        rich_help_panel=SYNC,
    ),
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help="Model (repeatable): one webhook per model.",
        rich_help_panel=SYNC,
    ),
]
AddedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--added",
        metavar="N|MODEL=N",
        help="Records added (with MODEL=N, models not named add 0). [default: 1]",
        rich_help_panel=SYNC,
    ),
]
UpdatedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--updated",
        metavar="N|MODEL=N",
        help="Records updated. [default: 0]",
        rich_help_panel=SYNC,
    ),
]
DeletedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--deleted",
        metavar="N|MODEL=N",
        help="Records deleted. [default: 0]",
        rich_help_panel=SYNC,
    ),
]
InitialOption = Annotated[
    bool,
    typer.Option("--initial", help="syncType INITIAL (first, full run).", rich_help_panel=SYNC),
]
IncrementalOption = Annotated[
    bool,
    typer.Option("--incremental", help="syncType INCREMENTAL (the default).", rich_help_panel=SYNC),
]
WebhookSyncOption = Annotated[
    bool,
    typer.Option(
        "--webhook",
        help="syncType WEBHOOK (run from an external webhook).",
        rich_help_panel=SYNC,
    ),
]
VariantOption = Annotated[
    str | None,
    typer.Option(
        "--variant", metavar="NAME", help="syncVariant. [default: base]", rich_help_panel=SYNC
    ),
]
ModifiedAfterOption = Annotated[
    str | None,
    typer.Option(
        "--modified-after",
        metavar="TIME",
        help="modifiedAfter (ISO-8601). [default: now]",
        rich_help_panel=SYNC,
    ),
]
CheckpointFromOption = Annotated[
    str | None,
    typer.Option(
        "--checkpoint-from",
        metavar="JSON",
        help="checkpoints.from: a flat object, or null.",
        rich_help_panel=SYNC,
    ),
]
CheckpointToOption = Annotated[
    str | None,
    typer.Option(
        "--checkpoint-to",
        metavar="JSON",
        help="checkpoints.to: a flat object, or null.",
        rich_help_panel=SYNC,
    ),
]
FailedOption = Annotated[
    bool,
    typer.Option("--failed", help="A failure: sync error, or failed auth.", rich_help_panel=SYNC),
]
ErrorMessageOption = Annotated[
    str | None,
    typer.Option(
        "--error-message",
        metavar="TEXT",
        help="error.description of a failure.",
        rich_help_panel=SYNC,
    ),
]
AuthOption = Annotated[
    str | None,
    typer.Option(
        "--auth",
        metavar="OPERATION",
        help="Auth webhook: creation, override, refresh or deletion.",
        rich_help_panel=OTHER,
    ),
]
AuthModeOption = Annotated[
    str | None,
    typer.Option(
        "--auth-mode",
        metavar="MODE",
        help="authMode: OAUTH2, API_KEY, …, or unknown. [default: OAUTH2]",
        rich_help_panel=OTHER,
    ),
]
ProviderOption = Annotated[
    str | None,
    typer.Option(
        "--provider",
        metavar="KEY",
        help="Provider key, or unknown. [default: the integration]",
        rich_help_panel=OTHER,
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag", metavar="KEY=VALUE", help="Auth tag (repeatable).", rich_help_panel=OTHER
    ),
]
EndUserIdOption = Annotated[
    str | None,
    typer.Option("--end-user-id", metavar="ID", help="endUser.endUserId.", rich_help_panel=OTHER),
]
EndUserEmailOption = Annotated[
    str | None,
    typer.Option(
        "--end-user-email",
        metavar="EMAIL",
        help="endUser.endUserEmail.",
        rich_help_panel=OTHER,
    ),
]
OrganizationIdOption = Annotated[
    str | None,
    typer.Option(
        "--organization-id",
        metavar="ID",
        help="endUser.organizationId.",
        rich_help_panel=OTHER,
    ),
]
ForwardOption = Annotated[
    str | None,
    typer.Option(
        "--forward",
        metavar="FILE",
        help="Forward webhook wrapping this external JSON body (FILE or -).",
        rich_help_panel=OTHER,
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        metavar="'NAME: VALUE'",
        help="External header for --forward (repeatable).",
        rich_help_panel=OTHER,
    ),
]
UnmatchedOption = Annotated[
    bool,
    typer.Option(
        "--unmatched",
        help="Forward as if no connection matched: raw body, unwrapped.",
        rich_help_panel=OTHER,
    ),
]
AsyncActionOption = Annotated[
    bool,
    typer.Option("--async-action", help="Async action completion webhook.", rich_help_panel=OTHER),
]
ActionIdOption = Annotated[
    str | None,
    typer.Option(
        "--action-id",
        metavar="ID",
        help="payload.id of the async action. [default: random]",
        rich_help_panel=OTHER,
    ),
]
ResultOption = Annotated[
    str | None,
    typer.Option(
        "--result",
        metavar="JSON",
        help="The async action's result, served by `nango-hooks api` at GET /action/{id}.",
        rich_help_panel=OTHER,
    ),
]
RecordsFileOption = Annotated[
    str | None,
    typer.Option(
        "--records",
        metavar="FILE",
        help="Records the sync adds or updates, one JSON object with an id per line "
        "(FILE or -); the counts come from it.",
        rich_help_panel=SYNC,
    ),
]
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed",
        metavar="N",
        help="Seed of the generated records' values.",
        rich_help_panel=SYNC,
    ),
]
BodyOption = Annotated[
    str | None,
    typer.Option(
        "--body",
        metavar="FILE",
        help="Send this raw body as-is (FILE or -), signed byte-exactly.",
        rich_help_panel=OTHER,
    ),
]
ToListenerOption = Annotated[
    bool,
    typer.Option(
        "--to-listener",
        help="Send to the `nango-hooks listen` running on this machine.",
        rich_help_panel=SEND,
    ),
]
UrlOption = Annotated[
    list[str] | None,
    typer.Option(
        "--url",
        "-u",
        metavar="URL",
        help="Send here instead of the configured URLs (repeatable).",
        rich_help_panel=SEND,
    ),
]
SignOption = Annotated[
    str,
    typer.Option(
        "--sign",
        metavar="MODE",
        help="both, none, bad, legacy-only or hmac-only.",
        rich_help_panel=SEND,
    ),
]
NoControlOption = Annotated[
    bool,
    typer.Option(
        "--no-control",
        help="With --sign bad/none, do not send the correctly signed copy first (the "
        "verdict is then 'not judged').",
        rich_help_panel=SEND,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Send even if the environment's toggles would not.",
        rich_help_panel=SEND,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the exact request; send nothing.", rich_help_panel=SEND),
]
CountOption = Annotated[
    int | None,
    typer.Option(
        "--count",
        "-n",
        metavar="N",
        min=1,
        help="Load mode: send N distinct webhooks.",
        rich_help_panel=LOAD,
    ),
]
ConcurrencyOption = Annotated[
    int,
    typer.Option(
        "--concurrency",
        metavar="N",
        min=1,
        max=1000,
        help="Load mode: requests in flight.",
        rich_help_panel=LOAD,
    ),
]
RateOption = Annotated[
    str | None,
    typer.Option(
        "--rate",
        metavar="N/s",
        help="Load mode: at most N webhooks per second, e.g. 200/s.",
        rich_help_panel=LOAD,
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="PATH",
        help="Nango project to learn syncs from (directory, .nango/nango.json or "
        "nango.yaml). [default: ./ or ./nango-integrations/]",
        rich_help_panel=SYNC,
    ),
]
