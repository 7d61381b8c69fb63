//! The key that names a guest context, used by the engine (windows) and
//! the stats path (per-process counters) alike, so neither depends on the
//! other for it.
//!
//! A guest *process* here is a translation context: the ASID plus the base
//! of the user translation table (TTBR0). Linux gives every address space
//! (every exec, every fork child) its own page-table root and ASID, so a
//! context is one process image; threads of a process share it.

use hspt_shim as abi;

/// Identity of a guest translation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    pub asid: u16,
    /// Physical base of the user translation table (attribute bits cleared).
    pub ttbr0: u64,
}

impl ProcessKey {
    /// The context the guest is in, from a hook's register snapshot.
    pub fn from_context(ctx: &abi::hspt_arm_context) -> Self {
        let long_desc = ctx.long_desc != 0;
        let asid = if long_desc {
            // LPAE: the ASID is in TTBR0 or, with TTBCR.A1, in TTBR1.
            let asid_reg = if ctx.ttbcr & (1 << 22) != 0 {
                ctx.ttbr1
            } else {
                ctx.ttbr0
            };
            ((asid_reg >> 48) & 0xff) as u16
        } else {
            // Short descriptors: ASID in CONTEXTIDR[7:0].
            (ctx.contextidr & 0xff) as u16
        };
        ProcessKey {
            asid,
            ttbr0: Self::table_base(ctx.ttbr0, long_desc),
        }
    }

    /// The physical base of the translation table in a TTBR0 value:
    /// long descriptors keep the ASID in [55:48] and the base in [39:4]
    /// (at most), short descriptors walk attributes in [6:0].
    pub fn table_base(ttbr0: u64, long_desc: bool) -> u64 {
        if long_desc {
            ttbr0 & 0x0000_00ff_ffff_fff0
        } else {
            ttbr0 & 0xffff_ff80
        }
    }
}
