//! NUT's command-line tools, reimplemented with the same names, options and output.
//!
//! [`drvctl`] holds the decisions of `upsdrvctl` (which drivers, which command lines, in which
//! order, with which waits) as plain functions of the parsed ups.conf, so they are tested
//! without starting anything; the binary only executes the plan.

pub mod drvctl;
