"""Entry point of the `timecoin` command."""

from __future__ import annotations

import click

from timecoin import __version__
from timecoin.cli.common import network_option
from timecoin.cli.devnet_cmd import devnet_cmd
from timecoin.cli.genesis_cmd import genesis_group
from timecoin.cli.loadgen_cmd import loadgen_cmd
from timecoin.cli.masternode_cmd import masternode_group
from timecoin.cli.node_cmd import node_cmd
from timecoin.cli.rpc_cmd import rpc_cmd
from timecoin.cli.sim_cmd import sim_cmd
from timecoin.cli.testnet_cmd import testnet_cmd
from timecoin.cli.verify_proof_cmd import verify_proof_cmd
from timecoin.cli.wallet_cmd import wallet_group


class TimecoinGroup(click.Group):
    """The command group; an unknown lower-case command is an RPC method name,
    so `timecoin getblockcount` means `timecoin rpc getblockcount`, like
    bitcoin-cli."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and self.get_command(ctx, name) is None and _is_method_name(name):
            return "rpc", rpc_cmd, args
        return super().resolve_command(ctx, args)


def _is_method_name(name: str) -> bool:
    return name.isascii() and name.isalnum() and name.islower()


@click.group(cls=TimecoinGroup, params=[network_option()])
@click.version_option(__version__, prog_name="timecoin")
@click.pass_context
def cli(ctx: click.Context, network: str) -> None:
    """TimeCoin full node and masternode."""
    ctx.ensure_object(dict)
    ctx.obj["network"] = network


cli.add_command(devnet_cmd)
cli.add_command(wallet_group)
cli.add_command(sim_cmd)
cli.add_command(rpc_cmd)
cli.add_command(node_cmd)
cli.add_command(testnet_cmd)
cli.add_command(loadgen_cmd)
cli.add_command(masternode_group)
cli.add_command(genesis_group)
cli.add_command(verify_proof_cmd)


def main() -> None:
    """Run the command line."""
    cli(obj={})
