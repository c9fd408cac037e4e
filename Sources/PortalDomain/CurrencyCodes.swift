/// The currencies a service may be priced in: ISO 4217's codes of currencies
/// in circulation, lower case as Stripe writes them (SPEC §1).
///
/// Left out on purpose: ISO's fund codes (`bov`, `che`, `chw`, `clf`,
/// `cou`, `mxv`, `usn`, `uyi`, `uyw`), precious metals (`xau`, `xag`,
/// `xpd`, `xpt`), bond-market units and special drawing rights (`xba`–`xbd`,
/// `xdr`, `xsu`, `xua`), the testing and no-currency codes (`xts`, `xxx`) —
/// nobody pays for a dog walk in them — and codes ISO has withdrawn
/// (`hrk`, `ang`, …). A code being listed does not mean that the configured
/// Stripe account can charge it; Stripe refuses that when the
/// PaymentIntent is created.
enum CurrencyCodes {
    /// Whether `code` (three lower-case ASCII letters) is one of them.
    static func contains(_ code: String) -> Bool {
        inCirculation.contains(code)
    }

    private static let inCirculation: Set<String> = [
        "aed", "afn", "all", "amd", "aoa", "ars", "aud", "awg", "azn",
        "bam", "bbd", "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "btn", "bwp", "byn", "bzd",
        "cad", "cdf", "chf", "clp", "cny", "cop", "crc", "cuc", "cup", "cve", "czk",
        "djf", "dkk", "dop", "dzd",
        "egp", "ern", "etb", "eur",
        "fjd", "fkp",
        "gbp", "gel", "ghs", "gip", "gmd", "gnf", "gtq", "gyd",
        "hkd", "hnl", "htg", "huf",
        "idr", "ils", "inr", "iqd", "irr", "isk",
        "jmd", "jod", "jpy",
        "kes", "kgs", "khr", "kmf", "kpw", "krw", "kwd", "kyd", "kzt",
        "lak", "lbp", "lkr", "lrd", "lsl", "lyd",
        "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mru", "mur", "mvr", "mwk", "mxn", "myr", "mzn",
        "nad", "ngn", "nio", "nok", "npr", "nzd",
        "omr",
        "pab", "pen", "pgk", "php", "pkr", "pln", "pyg",
        "qar",
        "ron", "rsd", "rub", "rwf",
        "sar", "sbd", "scr", "sdg", "sek", "sgd", "shp", "sle", "sll", "sos", "srd", "ssp", "stn", "svc", "syp",
        "szl",
        "thb", "tjs", "tmt", "tnd", "top", "try", "ttd", "twd", "tzs",
        "uah", "ugx", "usd", "uyu", "uzs",
        "ved", "ves", "vnd", "vuv",
        "wst",
        "xaf", "xcd", "xcg", "xof", "xpf",
        "yer",
        "zar", "zmw", "zwg", "zwl",
    ]
}
