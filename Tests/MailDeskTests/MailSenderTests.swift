import DeskEngine
import EventLog
import Foundation
import Mail
import MailDesk
import Projections
import SupportDesk
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fake sendmail: a shell script that stores each message it is given in `out`, or fails.
struct FakeSendmail {
    let script: URL
    let out: URL

    /// Writes what it reads to `$OUT/<nanoseconds>-<pid>.eml`.
    static func delivering(in dir: TempDir) throws -> FakeSendmail {
        let out = dir.path("sent")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return try make(dir.path("sendmail-ok"), out: out, body: "cat > \"$OUT/$(date +%s%N)-$$.eml\"\n")
    }

    /// Reads its input (so that the desk's write never meets a closed pipe), complains and exits 1.
    static func failing(in dir: TempDir) throws -> FakeSendmail {
        let out = dir.path("sent")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return try make(dir.path("sendmail-fail"), out: out,
                        body: "cat > /dev/null\necho \"sendmail: cannot connect to relay.example: Connection refused\" >&2\nexit 1\n")
    }

    /// Fails at once, without reading its input (as a misconfigured sendmail does).
    static func failingWithoutReading(in dir: TempDir) throws -> FakeSendmail {
        let out = dir.path("sent")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return try make(dir.path("sendmail-fatal"), out: out, body: "echo \"sendmail: fatal: no relay host configured\" >&2\nexit 1\n")
    }

    /// Any script body (with `$OUT` set).
    static func custom(in dir: TempDir, _ body: String) throws -> FakeSendmail {
        let out = dir.path("sent")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        return try make(dir.path("sendmail-custom"), out: out, body: body)
    }

    private static func make(_ script: URL, out: URL, body: String) throws -> FakeSendmail {
        let text = "#!/bin/sh\nOUT='\(out.path)'\n" + body
        try Data(text.utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return FakeSendmail(script: script, out: out)
    }

    /// The messages sent so far, in order.
    func sent() throws -> [[UInt8]] {
        try entries(out).map { try Array(Data(contentsOf: out.appendingPathComponent($0))) }
    }
}

/// A desk with the mail intake, an outbox followed by a running projection runner, and a sender.
struct SenderEnv {
    let env: MailEnv
    let outbox: Outbox
    let runner: ProjectionRunner
    let sender: MailSender
    let sendmail: FakeSendmail

    static let retryBase: TimeInterval = 60

    enum Script { case delivering, failing, failingWithoutReading, custom(String) }

    init(failing: Bool = false, maxAttempts: Int = 3, configure: (inout MailSenderOptions) -> Void = { _ in }) async throws {
        try await self.init(script: failing ? .failing : .delivering, maxAttempts: maxAttempts, configure: configure)
    }

    init(script: Script, maxAttempts: Int = 3, configure: (inout MailSenderOptions) -> Void = { _ in }) async throws {
        env = try await MailEnv()
        outbox = Outbox(retryBase: Self.retryBase, retryCap: 3600)
        runner = ProjectionRunner(store: env.store, projections: [outbox])
        try await runner.prepare()
        runner.start()
        switch script {
        case .delivering: sendmail = try FakeSendmail.delivering(in: env.dir)
        case .failing: sendmail = try FakeSendmail.failing(in: env.dir)
        case .failingWithoutReading: sendmail = try FakeSendmail.failingWithoutReading(in: env.dir)
        case .custom(let body): sendmail = try FakeSendmail.custom(in: env.dir, body)
        }
        var options = MailSenderOptions()
        options.sendmail = [sendmail.script.path]
        options.fromAddress = "support@desk.example"
        options.maxAttempts = maxAttempts
        options.timeout = 10
        configure(&options)
        sender = MailSender(processor: env.processor, outbox: outbox, runner: runner, blobs: env.blobs, token: env.token,
                            options: options, clock: env.clock)
    }

    /// Waits until the outbox has folded everything committed so far.
    func caughtUp() async throws {
        try await runner.waitUntil(env.store.committedHead, projection: outbox.name)
    }

    func stop() { runner.stop() }

    /// The delivery events of the log: (comment, contact, status, detail, actor).
    func deliveries() throws -> [(comment: Int, contact: String?, status: DeliveryStatus, detail: String?, actor: String?)] {
        try env.deliveries().map { ($0.0.comment, $0.0.recipient.contactId, $0.0.status, $0.0.detail, $0.1.metadata.actor) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct MailSenderTests {
    @Test func sendsOneMessagePerRecipientAndRecordsTheDelivery() async throws {
        let s = try await SenderEnv()
        defer { s.stop() }
        // A Russian ticket from Carl, by mail.
        try await s.env.ticketFromCarl(subject: "Не работает печать", body: "Здравствуйте!\nНе печатается отчёт за март.",
                                       messageId: "ru-1@client.example")
        #expect(try await s.env.processor.ticket(1)?.language == "ru")
        let pdf = pseudoRandomBytes(70_000, seed: 9)
        let (sha, size) = try s.env.blobs.put(pdf)
        let ref = AttachmentRef(sha256: sha, filename: "Инструкция.pdf", contentType: "application/pdf", size: size)
        let answer = "Здравствуйте, Карл!\nПерезапустите, пожалуйста, принтер = это помогает."
        let o = try await s.env.staffComment(answer, notify: [.contact("c1"), .contact("c2")], attachments: [ref])
        #expect(o.comment == 2)
        try await s.caughtUp()
        #expect(s.outbox.entries(.pending).count == 2)

        #expect(await s.sender.sendDue() == 2)
        let sent = try s.sendmail.sent().map { MailMessage.parse($0) }
        #expect(sent.count == 2)
        let byRecipient = Dictionary(uniqueKeysWithValues: sent.map { ($0.to.first?.address ?? "?", $0) })
        #expect(Set(byRecipient.keys) == ["carl@client.example", "bella@client.example"])
        for (address, m) in byRecipient {
            #expect(m.problems.isEmpty, "\(m.problems)")
            #expect(m.from == [MailAddress(name: TestDesk.accountName, address: "support@desk.example")])
            #expect(m.to.count == 1)
            #expect(m.to.first?.name == (address == "carl@client.example" ? "Carl Client" : "Bella Buyer"))
            #expect(m.subject == "Re: [#1] Не работает печать")
            let id = try #require(m.messageId)
            let v = try #require(s.env.token.verify(id), "\(id) does not verify")
            #expect(v.ticket == 1 && v.comment == 2)
            #expect(m.inReplyTo == ["ru-1@client.example"])
            #expect(m.references == ["ru-1@client.example"])
            #expect(m.header("X-Helpdesk-Ticket") == "1")
            #expect(m.date == s.env.clock.now())
            #expect(m.text.hasPrefix(answer + "\n\n-- \nAnna Petrova\n" + TestDesk.signature))
            #expect(m.text.contains("Заявка №1. Чтобы дополнить её, просто ответьте на это письмо."))
            #expect(!m.text.contains("Ticket #1"))
            #expect(m.attachments.count == 1)
            #expect(m.attachments.first?.filename == "Инструкция.pdf")
            #expect(m.attachments.first?.decodedBytes() == pdf)
        }
        // Each recipient has an id of their own.
        #expect(Set(sent.compactMap(\.messageId)).count == 2)

        // The log: queued, then delivered, for each recipient, by the mailer.
        let d = try s.deliveries()
        #expect(d.count == 4)
        for contact in ["c1", "c2"] {
            let mine = d.filter { $0.contact == contact }
            #expect(mine.map(\.status) == [.queued, .delivered], "\(contact)")
            #expect(mine.allSatisfy { $0.comment == 2 && $0.actor == "system:mailer" })
        }
        try await s.caughtUp()
        #expect(s.outbox.all.isEmpty)
        #expect(try await s.env.processor.ticket(1)?.deliveries["2/contact:c1"] == .delivered)

        // Nothing more to send, now or later.
        #expect(await s.sender.sendDue() == 0)
        s.env.clock.advance(by: 24 * 3600)
        #expect(await s.sender.sendDue() == 0)
        #expect(try s.sendmail.sent().count == 2)
        #expect(try s.deliveries().count == 4)

        // The client's reply to what was sent threads back into the ticket by its token.
        let carls = try #require(byRecipient["carl@client.example"]?.messageId)
        let reply = TestMail(from: "Carl Client <carl@client.example>", subject: "Re: [#1] Не работает печать",
                             messageId: "ru-2@client.example", inReplyTo: [carls], references: ["ru-1@client.example", carls],
                             body: "Спасибо, заработало.")
        let r = try await s.env.receive(reply)
        #expect(r.disposition == "token")
        #expect(r.ticket == 1 && r.comment == 3)
    }

    @Test func englishTicketsGetTheEnglishFooterAndTheConfiguredFromName() async throws {
        let s = try await SenderEnv { $0.fromName = "Acme Helpdesk" }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        try await s.caughtUp()
        #expect(await s.sender.sendDue() == 1)
        let m = MailMessage.parse(try #require(try s.sendmail.sent().first))
        #expect(m.from.first?.name == "Acme Helpdesk")
        #expect(m.to.map(\.address) == ["carl@client.example"])
        #expect(m.subject == "Re: [#1] Printer does not print")
        #expect(m.inReplyTo == ["carl-1@client.example"])
        #expect(m.text.contains("Ticket #1. To add to it, simply reply to this message."))
        #expect(m.text.hasPrefix("Please restart it.\n\n-- \nAnna Petrova\n"))
        // Its token names the recipient's position in the comment's notify set.
        let t = try #require(try await s.env.processor.ticket(1))
        let index = try #require(t.comments[1].notify.firstIndex(of: .contact("c1")))
        #expect(m.messageId == s.env.token.messageId(ticket: 1, comment: 2, recipient: index))
    }

    @Test func aTicketThatDidNotComeByMailHasNoInReplyTo() async throws {
        let s = try await SenderEnv()
        defer { s.stop() }
        _ = try await s.env.processor.execute(Command(actor: TestDesk.anna, .openTicket(OpenTicket(
            channel: .phone, subject: "Invoice copy", body: "Carl called.", contact: .id("c1")))))
        try await s.env.staffComment("We sent the invoice again.", notify: [.contact("c1")])
        try await s.caughtUp()
        #expect(await s.sender.sendDue() == 1)
        let m = MailMessage.parse(try #require(try s.sendmail.sent().first))
        #expect(m.inReplyTo.isEmpty)
        #expect(m.references.isEmpty)
        #expect(m.subject == "Re: [#1] Invoice copy")
    }

    @Test func failuresAreRetriedAfterTheBackoffAndParkedAfterMaxAttempts() async throws {
        let s = try await SenderEnv(failing: true, maxAttempts: 3)
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        try await s.caughtUp()

        // Attempt 1 fails.
        let firstFailure = s.env.clock.now()
        #expect(await s.sender.sendDue() == 1)
        var e = try #require(s.outbox.all.first)
        #expect(e.status == .failed)
        #expect(e.attempts == 1)
        #expect(e.lastError?.contains("exited with status 1") == true, "\(e.lastError ?? "")")
        #expect(e.lastError?.contains("Connection refused") == true, "\(e.lastError ?? "")")
        #expect(e.nextAttemptAt == firstFailure.addingTimeInterval(SenderEnv.retryBase))
        // Not before the backoff.
        #expect(await s.sender.sendDue() == 0)
        s.env.clock.advance(by: SenderEnv.retryBase - 1)
        #expect(await s.sender.sendDue() == 0)

        // Attempt 2, after the backoff, fails with twice the backoff.
        s.env.clock.advance(by: 2)
        let secondFailure = s.env.clock.now()
        #expect(await s.sender.sendDue() == 1)
        e = try #require(s.outbox.all.first)
        #expect(e.status == .failed && e.attempts == 2)
        #expect(e.nextAttemptAt == secondFailure.addingTimeInterval(2 * SenderEnv.retryBase))
        s.env.clock.advance(by: SenderEnv.retryBase + 1)
        #expect(await s.sender.sendDue() == 0)

        // Attempt 3 is the last: parked, with the reason.
        s.env.clock.advance(by: SenderEnv.retryBase)
        #expect(await s.sender.sendDue() == 1)
        e = try #require(s.outbox.all.first)
        #expect(e.status == .parked)
        #expect(e.attempts == 3)
        #expect(e.lastError?.contains("gave up after 3 attempts") == true, "\(e.lastError ?? "")")
        s.env.clock.advance(by: 30 * 24 * 3600)
        #expect(await s.sender.sendDue() == 0)
        #expect(s.outbox.nextDue == nil)

        let d = try s.deliveries()
        #expect(d.map(\.status) == [.queued, .failed, .queued, .failed, .queued, .parked])
        #expect(d.allSatisfy { $0.actor == "system:mailer" && $0.contact == "c1" && $0.comment == 2 })
        #expect(try await s.env.processor.ticket(1)?.deliveries["2/contact:c1"] == .parked)
        #expect(try s.sendmail.sent().isEmpty)
    }

    @Test func aMissingSendmailProgramIsAFailure() async throws {
        let s = try await SenderEnv { $0.sendmail = ["/nonexistent/sendmail", "-t"] }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        try await s.caughtUp()
        #expect(await s.sender.sendDue() == 1)
        let e = try #require(s.outbox.all.first)
        #expect(e.status == .failed)
        #expect(e.lastError?.contains("/nonexistent/sendmail") == true)
    }

    @Test func anInterruptedAttemptIsParkedAndNeverSent() async throws {
        let s = try await SenderEnv()
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        // The desk recorded the attempt and stopped before it knew the result.
        try await s.env.recordDelivery(.queued, comment: 2, detail: "attempt 1")
        try await s.caughtUp()
        #expect(s.outbox.entries(.sending).map(\.key) == ["1/2/c1"])
        #expect(await s.sender.sendDue() == 0)

        await s.sender.parkInterrupted()
        let e = try #require(s.outbox.all.first)
        #expect(e.status == .parked)
        #expect(e.lastError?.contains("interrupted") == true)
        #expect(s.outbox.entries(.sending).isEmpty)
        s.env.clock.advance(by: 7 * 24 * 3600)
        #expect(await s.sender.sendDue() == 0)
        #expect(try s.sendmail.sent().isEmpty)
        #expect(try s.deliveries().map(\.status) == [.queued, .parked])
    }

    @Test func aCommentOlderThanMaxAgeIsParkedNotSent() async throws {
        let s = try await SenderEnv { $0.maxAge = 3600 }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("An old answer.")
        try await s.caughtUp()
        s.env.clock.advance(by: 3600 + 1)
        #expect(await s.sender.sendDue() == 1)
        let e = try #require(s.outbox.all.first)
        #expect(e.status == .parked)
        #expect(e.attempts == 0)
        #expect(e.lastError?.contains("older than") == true, "\(e.lastError ?? "")")
        #expect(try s.sendmail.sent().isEmpty)
        #expect(try s.deliveries().map(\.status) == [.parked])
        // A fresh answer on the same ticket still goes out.
        try await s.env.staffComment("A new answer.")
        try await s.caughtUp()
        #expect(await s.sender.sendDue() == 1)
        #expect(try s.sendmail.sent().count == 1)
    }

    @Test func aCommentYoungerThanMaxAgeIsSent() async throws {
        let s = try await SenderEnv { $0.maxAge = 3600 }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("A recent answer.")
        try await s.caughtUp()
        s.env.clock.advance(by: 3600 - 1)
        #expect(await s.sender.sendDue() == 1)
        #expect(try s.sendmail.sent().count == 1)
        #expect(s.outbox.all.isEmpty)
    }

    @Test func aMissingAttachmentParksTheEntryWithoutSending() async throws {
        let s = try await SenderEnv()
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        let ghost = AttachmentRef(sha256: String(repeating: "ab", count: 32), filename: "gone.pdf", contentType: "application/pdf", size: 10)
        try await s.env.staffComment("See the file.", attachments: [ghost])
        try await s.caughtUp()
        #expect(await s.sender.sendDue() == 1)
        let e = try #require(s.outbox.all.first)
        #expect(e.status == .parked)
        #expect(e.lastError?.contains("gone.pdf") == true)
        #expect(try s.sendmail.sent().isEmpty)
        #expect(try s.deliveries().map(\.status) == [.parked])
    }

    /// A sendmail that never ends is stopped after `timeout` and the attempt counts as failed.
    @Test func aSendmailThatHangsIsStoppedAfterTheTimeout() async throws {
        // Never reads, does not end by itself for 30 s (exec: the shell itself becomes the sleeper, so
        // stopping it ends it). The bound below leaves room for a loaded machine and still proves it.
        let s = try await SenderEnv(script: .custom("exec sleep 30\n")) { $0.timeout = 1 }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        try await s.caughtUp()
        let started = Date()
        #expect(await s.sender.sendDue() == 1)
        let took = Date().timeIntervalSince(started)
        #expect(took >= 0.9, "took \(took) s")
        #expect(took < 15, "took \(took) s")
        #expect(s.outbox.all.first?.status == .failed)
        #expect(s.outbox.all.first?.lastError?.contains("did not finish within 1 s") == true, "\(s.outbox.all.first?.lastError ?? "delivered")")
    }

    /// A sendmail that hands the message to a background process (which keeps the inherited stderr
    /// open) has done its job when it exits 0; the sender should not wait for the background process,
    /// and never beyond its timeout.
    @Test func aSendmailLeavingABackgroundProcessDoesNotHoldTheSenderBeyondTheTimeout() async throws {
        let s = try await SenderEnv(script: .custom("cat > \"$OUT/$(date +%s%N)-$$.eml\"\nsleep 30 >/dev/null &\nexit 0\n")) { $0.timeout = 5 }
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        try await s.env.staffComment("Please restart it.")
        try await s.caughtUp()
        let started = Date()
        #expect(await s.sender.sendDue() == 1)
        let took = Date().timeIntervalSince(started)
        #expect(try s.sendmail.sent().count == 1)
        #expect(s.outbox.all.isEmpty, "delivered")
        // Neither the background process (30 s) nor the timeout (5 s) held it.
        #expect(took < 4.5, "took \(took) s")
    }

    static let childVariable = "MAILDESK_SIGPIPE_CHILD"

    /// A sendmail that exits without reading its input (a fatal configuration error) must be a failed
    /// attempt, not the end of the desk. MailSender writes the message into a pipe whose reader is gone:
    /// unless SIGPIPE is ignored, the write kills the whole process (status 141). The scenario runs in a
    /// child copy of this test binary, so that the crash does not take the test run with it.
    @Test func aSendmailThatExitsWithoutReadingItsInputDoesNotKillTheDesk() async throws {
        if ProcessInfo.processInfo.environment[Self.childVariable] == "1" {
            // As in a fresh desk process, whatever the parent test process inherited or set.
            signal(SIGPIPE, SIG_DFL)
            try await Self.sigpipeScenario()
            return
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0],
                      relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)).standardizedFileURL
        guard exe.path.hasSuffix(".xctest"), FileManager.default.isExecutableFile(atPath: exe.path) else {
            return  // not run from a re-executable test binary (e.g. through the xctest tool on macOS)
        }
        let (status, reason, output) = await withCheckedContinuation { (k: CheckedContinuation<(Int32, Process.TerminationReason, String), Never>) in
            DispatchQueue.global().async {
                let p = Process()
                p.executableURL = exe
                p.arguments = ["--testing-library", "swift-testing", "--filter", "aSendmailThatExitsWithoutReadingItsInputDoesNotKillTheDesk"]
                p.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "1"]) { $1 }
                let pipe = Pipe()
                p.standardOutput = pipe
                p.standardError = pipe
                p.standardInput = FileHandle.nullDevice
                do { try p.run() } catch {
                    k.resume(returning: (-1, .exit, "cannot start \(exe.path): \(error)"))
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                k.resume(returning: (p.terminationStatus, p.terminationReason, String(decoding: data, as: UTF8.self)))
            }
        }
        try #require(output.contains("MAILDESK-SIGPIPE-CHILD sending"), "the child did not reach the scenario: \(output.suffix(2000))")
        let survived = output.contains("MAILDESK-SIGPIPE-CHILD survived")
        #expect(reason == .exit && status == 0, "child ended by \(reason == .exit ? "exit" : "signal") \(status)")
        #expect(survived, "the child did not finish the scenario")
    }

    static func sigpipeScenario() async throws {
        let s = try await SenderEnv(script: .failingWithoutReading)
        defer { s.stop() }
        try await s.env.ticketFromCarl()
        // 1 MiB: far more than a pipe holds, so the write is certain to meet the closed pipe.
        let big = pseudoRandomBytes(1 << 20, seed: 5)
        let (sha, size) = try s.env.blobs.put(big)
        try await s.env.staffComment("The file you asked for.",
                                     attachments: [AttachmentRef(sha256: sha, filename: "dump.bin", contentType: "application/octet-stream", size: size)])
        try await s.caughtUp()
        FileHandle.standardError.write(Data("MAILDESK-SIGPIPE-CHILD sending\n".utf8))
        #expect(await s.sender.sendDue() == 1)
        let e = try #require(s.outbox.all.first)
        #expect(e.status == .failed)
        #expect(e.lastError?.contains("exited with status 1") == true, "\(e.lastError ?? "")")
        FileHandle.standardError.write(Data("MAILDESK-SIGPIPE-CHILD survived\n".utf8))
    }
}
