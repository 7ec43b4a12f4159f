import Crypto
import Foundation

/// The ticket token in the Message-ID of every message the desk sends: `hd.T.C.R.SIGNATURE@domain`,
/// where T is the ticket, C the comment, R the recipient's position, and the signature the first 96
/// bits of HMAC-SHA256 over `T.C.R` with the account's mail secret. A reply names it in In-Reply-To
/// or References, whoever replies; a forged or altered token does not verify, so nobody can post into
/// a ticket they were never written to from.
public struct MailThreadToken: Sendable {
    let key: KeyBox
    public let domain: String

    /// SymmetricKey is not Sendable; it is immutable, so one is shared behind this box.
    final class KeyBox: @unchecked Sendable {
        let key: SymmetricKey
        init(_ secret: [UInt8]) { key = SymmetricKey(data: secret) }
    }

    public init(secret: [UInt8], domain: String) {
        key = KeyBox(secret)
        self.domain = domain
    }

    /// Reads the secret from `path`, creating it (32 random bytes, mode 0600) if it does not exist.
    public static func loadOrCreateSecret(at path: URL) throws -> [UInt8] {
        if let d = FileManager.default.contents(atPath: path.path), d.count >= 32 { return Array(d) }
        var g = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        let tmp = path.appendingPathExtension("tmp")
        guard FileManager.default.createFile(atPath: tmp.path, contents: Data(secret), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        guard rename(tmp.path, path.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return secret
    }

    func signature(_ body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: key.key)
        return hex(mac.prefix(12))
    }

    /// The Message-ID (without angle brackets) for comment `comment` of `ticket` to recipient number `recipient`.
    public func messageId(ticket: Int, comment: Int, recipient: Int) -> String {
        let body = "\(ticket).\(comment).\(recipient)"
        return "hd.\(body).\(signature(body))@\(domain)"
    }

    /// The ticket and comment a Message-ID names, if it is one of ours and its signature verifies.
    public func verify(_ messageId: String) -> (ticket: Int, comment: Int)? {
        guard let at = messageId.lastIndex(of: "@") else { return nil }
        let parts = messageId[..<at].split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "hd", let t = Int(parts[1]), let c = Int(parts[2]), Int(parts[3]) != nil,
              t > 0, c > 0 else { return nil }
        let body = "\(parts[1]).\(parts[2]).\(parts[3])"
        // Constant-time comparison of the signature.
        let expected = Array(signature(body).utf8), given = Array(parts[4].utf8)
        guard expected.count == given.count else { return nil }
        var diff: UInt8 = 0
        for i in expected.indices { diff |= expected[i] ^ given[i] }
        return diff == 0 ? (t, c) : nil
    }
}
