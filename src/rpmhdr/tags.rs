//! The header tag numbers and flag bits this crate reads (values from rpm's rpmtag.h/rpmds.h).

pub(crate) const SIGTAG_LONGARCHIVESIZE: u32 = 271;
pub(crate) const LONGARCHIVESIZE: u32 = 271;
pub(crate) const NAME: u32 = 1000;
pub(crate) const VERSION: u32 = 1001;
pub(crate) const RELEASE: u32 = 1002;
pub(crate) const EPOCH: u32 = 1003;
pub(crate) const SUMMARY: u32 = 1004;
pub(crate) const DESCRIPTION: u32 = 1005;
pub(crate) const BUILDTIME: u32 = 1006;
pub(crate) const BUILDHOST: u32 = 1007;
/// In the signature header: the payload size, which rpm merges into the header as ARCHIVESIZE.
pub(crate) const SIGTAG_PAYLOADSIZE: u32 = 1007;
pub(crate) const SIZE: u32 = 1009;
pub(crate) const VENDOR: u32 = 1011;
pub(crate) const LICENSE: u32 = 1014;
pub(crate) const PACKAGER: u32 = 1015;
pub(crate) const GROUP: u32 = 1016;
pub(crate) const URL: u32 = 1020;
pub(crate) const ARCH: u32 = 1022;
pub(crate) const OLDFILENAMES: u32 = 1027;
pub(crate) const FILEMODES: u32 = 1030;
pub(crate) const FILEFLAGS: u32 = 1037;
pub(crate) const SOURCERPM: u32 = 1044;
pub(crate) const ARCHIVESIZE: u32 = 1046;
pub(crate) const PROVIDENAME: u32 = 1047;
pub(crate) const REQUIREFLAGS: u32 = 1048;
pub(crate) const REQUIRENAME: u32 = 1049;
pub(crate) const REQUIREVERSION: u32 = 1050;
pub(crate) const CONFLICTFLAGS: u32 = 1053;
pub(crate) const CONFLICTNAME: u32 = 1054;
pub(crate) const CONFLICTVERSION: u32 = 1055;
pub(crate) const CHANGELOGTIME: u32 = 1080;
pub(crate) const CHANGELOGNAME: u32 = 1081;
pub(crate) const CHANGELOGTEXT: u32 = 1082;
pub(crate) const OBSOLETENAME: u32 = 1090;
pub(crate) const SOURCEPACKAGE: u32 = 1106;
pub(crate) const PROVIDEFLAGS: u32 = 1112;
pub(crate) const PROVIDEVERSION: u32 = 1113;
pub(crate) const OBSOLETEFLAGS: u32 = 1114;
pub(crate) const OBSOLETEVERSION: u32 = 1115;
pub(crate) const DIRINDEXES: u32 = 1116;
pub(crate) const BASENAMES: u32 = 1117;
pub(crate) const DIRNAMES: u32 = 1118;
pub(crate) const OLDSUGGESTSNAME: u32 = 1156;
pub(crate) const OLDSUGGESTSVERSION: u32 = 1157;
pub(crate) const OLDSUGGESTSFLAGS: u32 = 1158;
pub(crate) const OLDENHANCESNAME: u32 = 1159;
pub(crate) const OLDENHANCESVERSION: u32 = 1160;
pub(crate) const OLDENHANCESFLAGS: u32 = 1161;
pub(crate) const LONGSIZE: u32 = 5009;
pub(crate) const RECOMMENDNAME: u32 = 5046;
pub(crate) const RECOMMENDVERSION: u32 = 5047;
pub(crate) const RECOMMENDFLAGS: u32 = 5048;
pub(crate) const SUGGESTNAME: u32 = 5049;
pub(crate) const SUGGESTVERSION: u32 = 5050;
pub(crate) const SUGGESTFLAGS: u32 = 5051;
pub(crate) const SUPPLEMENTNAME: u32 = 5052;
pub(crate) const SUPPLEMENTVERSION: u32 = 5053;
pub(crate) const SUPPLEMENTFLAGS: u32 = 5054;
pub(crate) const ENHANCENAME: u32 = 5055;
pub(crate) const ENHANCEVERSION: u32 = 5056;
pub(crate) const ENHANCEFLAGS: u32 = 5057;

/// Dependency sense bits.
pub(crate) const SENSE_POSTTRANS: u64 = 1 << 5;
pub(crate) const SENSE_PREREQ: u64 = 1 << 6;
pub(crate) const SENSE_PRETRANS: u64 = 1 << 7;
pub(crate) const SENSE_SCRIPT_PRE: u64 = 1 << 9;
pub(crate) const SENSE_SCRIPT_POST: u64 = 1 << 10;
pub(crate) const SENSE_MISSINGOK: u64 = 1 << 19;
pub(crate) const SENSE_STRONG: u64 = 1 << 27;

/// File flag: `%ghost`.
pub(crate) const FILE_GHOST: u64 = 1 << 6;
