import ArgumentParser

import struct PortalDomain.LocalDate
import struct PortalDomain.TimeOfDay

// Command-line arguments are checked with the domain's own parsers, so that
// portalctl accepts exactly what the server does; a bad one is a usage error
// before any call is made.

extension LocalDate {
    /// The argument transform for `YYYY-MM-DD`: a real calendar date.
    static func parse(_ text: String) throws -> LocalDate {
        do {
            return try LocalDate(text)
        } catch {
            throw ValidationError("expected a real calendar date as YYYY-MM-DD")
        }
    }
}

extension TimeOfDay {
    /// The argument transform for `HH:MM`, 00:00–23:59; returns the text as
    /// the protocol writes it.
    static func parse(_ text: String) throws -> String {
        do {
            return try TimeOfDay(text).description
        } catch {
            throw ValidationError("expected a time of day as HH:MM, 00:00-23:59")
        }
    }
}
