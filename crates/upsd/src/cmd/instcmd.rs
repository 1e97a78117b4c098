//! INSTCMD (`server/netinstcmd.c` check order). The request type already holds upsd's rule
//! for the parameter: it is used only when exactly three words follow the command.

use nut_proto::{ErrCode, Reply};
use nut_state::UpsdMsg;

use super::set::forward;
use super::{reply, Ctx};

pub(super) fn instcmd<'a>(
    mut ctx: Ctx<'a, '_>,
    name: &str,
    cmd: &str,
    param: Option<String>,
) -> Reply<'a> {
    reply(send(&mut ctx, name, cmd, param))
}

fn send<'a>(
    ctx: &mut Ctx<'_, '_>,
    name: &str,
    cmd: &str,
    param: Option<String>,
) -> Result<Reply<'a>, ErrCode> {
    let ups = ctx.server.available_ups(name, ctx.now)?;
    if !ups.tree.has_cmd(cmd) {
        return Err(ErrCode::CmdNotSupported);
    }
    if !ctx.server.check_instcmd(ctx.session, cmd) {
        return Err(ErrCode::AccessDenied);
    }
    let link = ups.link.clone().ok_or(ErrCode::InstcmdFailed)?;
    let ups_name = ups.name.clone();
    forward(ctx, &link, ErrCode::InstcmdFailed, |ctx, tracking| {
        tracing::info!(
            "Instant command: {}@{} did {cmd}{}{} on {ups_name} (tracking ID: {})",
            ctx.session.username.as_deref().unwrap_or(""),
            ctx.session.addr,
            if param.is_some() { " with value " } else { "" },
            param.as_deref().unwrap_or(""),
            tracking.unwrap_or("disabled")
        );
        UpsdMsg::InstCmd {
            cmd: cmd.to_string(),
            param,
            tracking: tracking.map(str::to_string),
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn instcmd_checks_in_stock_order() {
        let mut rig = Rig::new();
        let out = rig.run(&[
            "USERNAME secondary",
            "PASSWORD pw",
            "INSTCMD ups",
            "INSTCMD nope load.off",
            "INSTCMD other load.off",
            "INSTCMD ups nope",
            "INSTCMD ups load.off",
        ]);
        assert_eq!(out, "OK\nOK\nERR INVALID-ARGUMENT\nERR UNKNOWN-UPS\nERR DRIVER-NOT-CONNECTED\nERR CMD-NOT-SUPPORTED\nERR ACCESS-DENIED\n");
        let mut a = rig.client();
        let out = rig.run_as(
            &mut a,
            &[
                "USERNAME admin",
                "PASSWORD pw",
                "INSTCMD ups LOAD.OFF",
                "INSTCMD ups load.off 10",
                "INSTCMD ups load.off a b",
            ],
        );
        assert_eq!(out, "OK\nOK\nOK\nOK\nOK\n");
        let sent: Vec<String> = rig.sent().iter().map(|m| m.to_line()).collect();
        assert_eq!(
            sent,
            [
                "INSTCMD LOAD.OFF",
                "INSTCMD load.off 10",
                "INSTCMD load.off"
            ]
        );
    }
}
