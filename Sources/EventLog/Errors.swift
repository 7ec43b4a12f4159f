import Foundation

/// Every failure of the event log, as one struct with an extensible code (the GRDB / PSQLError shape):
/// callers switch on `code`, people read `description`.
public struct EventLogError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }
        /// A stream was not at the expected version. `currentVersion` says where it is.
        public static let wrongExpectedVersion = Code(raw: "wrong_expected_version")
        /// Some, but not all, event ids of an append are already stored.
        public static let partialDuplicate = Code(raw: "partial_duplicate")
        /// Input that can never be stored (empty or too long stream name, oversize payload, …).
        public static let invalidInput = Code(raw: "invalid_input")
        /// A record written by a newer format than this build understands.
        public static let unknownFormatVersion = Code(raw: "unknown_format_version")
        /// Stored bytes that do not decode or do not match their hash / index.
        public static let corrupted = Code(raw: "corrupted")
        /// Another process holds the data folder for writing.
        public static let locked = Code(raw: "locked")
        /// The store was opened read-only and asked to write.
        public static let readOnly = Code(raw: "read_only")
        /// The store is closed or closing.
        public static let closed = Code(raw: "closed")
        /// An error reported by LMDB itself.
        public static let lmdb = Code(raw: "lmdb")
        /// A file-system error around the store (folders, lock files, backups).
        public static let io = Code(raw: "io")
    }

    public var code: Code
    public var message: String
    public var stream: String?
    public var expectedVersion: ExpectedVersion?
    public var currentVersion: UInt64?
    public var sequence: UInt64?
    /// The LMDB return code for `.lmdb` errors.
    public var lmdbCode: Int32?

    public init(_ code: Code, _ message: String, stream: String? = nil, expectedVersion: ExpectedVersion? = nil,
                currentVersion: UInt64? = nil, sequence: UInt64? = nil, lmdbCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.currentVersion = currentVersion
        self.sequence = sequence
        self.lmdbCode = lmdbCode
    }

    public var description: String { "\(code): \(message)" }

    static func wrongVersion(stream: String, expected: ExpectedVersion, current: UInt64) -> EventLogError {
        EventLogError(.wrongExpectedVersion,
                      "stream '\(stream)' is at version \(current), expected \(expected)",
                      stream: stream, expectedVersion: expected, currentVersion: current)
    }

    static func invalid(_ message: String) -> EventLogError { EventLogError(.invalidInput, message) }
}
