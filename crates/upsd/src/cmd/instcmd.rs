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
    forward(
        ctx,
        &ups_name,
        &link,
        ErrCode::InstcmdFailed,
        |ctx, tracking| {
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
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::Rig;

    #[test]
    fn instcmd_checks_in_stock_order() {
        let mut rig = Rig::new();
        rig.talk(&[
            ("USERNAME secondary", "OK"),
            ("PASSWORD pw", "OK"),
            ("INSTCMD ups", "ERR INVALID-ARGUMENT"),
            ("INSTCMD nope load.off", "ERR UNKNOWN-UPS"),
            ("INSTCMD other load.off", "ERR DRIVER-NOT-CONNECTED"),
            ("INSTCMD ups nope", "ERR CMD-NOT-SUPPORTED"),
            ("INSTCMD ups load.off", "ERR ACCESS-DENIED"),
        ]);
        let mut a = rig.client();
        rig.talk_as(
            &mut a,
            &[
                ("USERNAME admin", "OK"),
                ("PASSWORD pw", "OK"),
                ("INSTCMD ups LOAD.OFF", "OK"),
                ("INSTCMD ups load.off 10", "OK"),
                ("INSTCMD ups load.off a b", "OK"),
            ],
        );
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
