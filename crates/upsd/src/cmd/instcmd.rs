//! INSTCMD (`server/netinstcmd.c` check order). A parameter is used only when exactly three
//! words follow the command.

use nut_proto::ErrCode;
use nut_state::UpsdMsg;

use super::set::forward;
use super::{Ctx, Outcome};
use crate::reply::Reply;

pub fn instcmd(ctx: &mut Ctx<'_>, args: &[String]) -> Outcome {
    if args.len() < 2 {
        return ErrCode::InvalidArgument.into();
    }
    let param = (args.len() == 3).then(|| args[2].clone());
    match send(ctx, &args[0], &args[1], param) {
        Ok(reply) => reply.into(),
        Err(code) => code.into(),
    }
}

fn send(ctx: &mut Ctx<'_>, name: &str, cmd: &str, param: Option<String>) -> Result<Reply, ErrCode> {
    let ups = ctx.available_ups(name)?;
    if !ups.tree.has_cmd(cmd) {
        return Err(ErrCode::CmdNotSupported);
    }
    let (user, pw) = ctx.user();
    if !crate::state::check_instcmd(&ctx.server.users, user, pw, cmd) {
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
    use crate::cmd::testutil::*;

    #[test]
    fn instcmd_checks_in_stock_order() {
        let (mut s, mut rx) = server();
        let mut c = session(&mut s);
        let out = run(
            &mut s,
            &mut c,
            &[
                "USERNAME secondary",
                "PASSWORD pw",
                "INSTCMD ups",
                "INSTCMD nope load.off",
                "INSTCMD other load.off",
                "INSTCMD ups nope",
                "INSTCMD ups load.off",
            ],
        );
        assert_eq!(out, "OK\nOK\nERR INVALID-ARGUMENT\nERR UNKNOWN-UPS\nERR DRIVER-NOT-CONNECTED\nERR CMD-NOT-SUPPORTED\nERR ACCESS-DENIED\n");
        let mut a = session(&mut s);
        let out = run(
            &mut s,
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
        assert_eq!(rx.try_recv().ok().as_deref(), Some("INSTCMD LOAD.OFF\n"));
        assert_eq!(rx.try_recv().ok().as_deref(), Some("INSTCMD load.off 10\n"));
        assert_eq!(rx.try_recv().ok().as_deref(), Some("INSTCMD load.off\n"));
    }
}
