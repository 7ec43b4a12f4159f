import DeskEngine
import Foundation
import Mail
import Projections
import SupportDesk

/// How the desk sends mail.
public struct MailSenderOptions: Sendable {
    /// The sendmail-compatible program and its arguments; the message goes to its standard input.
    public var sendmail = ["/usr/sbin/sendmail", "-t", "-i"]
    public var fromAddress = "support@helpdesk.local"
    /// Display name on outgoing mail (default: the account's name).
    public var fromName: String?
    /// Attempts before an entry is parked.
    public var maxAttempts = 5
    /// Comments older than this when the sender first sees them are parked, not sent (an imported
    /// history or a long stop must not flood clients with old answers).
    public var maxAge: TimeInterval = 3 * 24 * 3600
    /// How long one sendmail run may take.
    public var timeout: TimeInterval = 60
    /// How often the outbox is looked at when nothing is known to be due.
    public var pollInterval: TimeInterval = 1
    public init() {}
}

/// Sends the outbox: composes each client-addressed comment for each recipient (in the ticket's
/// language where a template exists, with the staff member's signature, R13), hands it to sendmail,
/// and records the outcome as `DeliveryRecorded` events. An attempt is recorded (`queued`) before the
/// message is handed over, so it is sent at most once: an attempt interrupted by a crash is parked for a
/// person to check, never repeated. Failures are retried with backoff (see `Outbox`) and parked after
/// `maxAttempts`, with the reason visible on the ticket.
public final class MailSender: Sendable {
    public let processor: CommandProcessor
    public let outbox: Outbox
    public let runner: ProjectionRunner
    public let blobs: BlobStore
    public let token: MailThreadToken
    public let options: MailSenderOptions
    public let clock: any DeskClock
    let actor = Party.system("mailer")

    public init(processor: CommandProcessor, outbox: Outbox, runner: ProjectionRunner, blobs: BlobStore,
                token: MailThreadToken, options: MailSenderOptions, clock: any DeskClock) {
        self.processor = processor
        self.outbox = outbox
        self.runner = runner
        self.blobs = blobs
        self.token = token
        self.options = options
        self.clock = clock
    }

    /// Parks attempts that were started but never finished (the process stopped in between).
    public func parkInterrupted() async {
        for e in outbox.entries(.sending) {
            await record(e, .parked, "sending was interrupted (the desk stopped); it may or may not have arrived, so it is not sent again automatically")
        }
    }

    /// Runs until cancelled.
    public func run() async {
        await parkInterrupted()
        while !Task.isCancelled {
            let sent = await sendDue()
            if sent > 0 { continue }
            var wait = options.pollInterval
            if let next = outbox.nextDue { wait = max(0.05, min(wait, next.timeIntervalSince(clock.now()))) }
            try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
        }
    }

    /// One pass over what is due now; returns how many entries it worked on.
    @discardableResult
    public func sendDue(limit: Int = 100) async -> Int {
        let due = outbox.due(at: clock.now(), limit: limit)
        for e in due { await attempt(e) }
        return due.count
    }

    func attempt(_ e: Outbox.Entry) async {
        let now = clock.now()
        if e.attempts == 0, now.timeIntervalSince(e.createdAt) > options.maxAge {
            await record(e, .parked, "written \(Int(now.timeIntervalSince(e.createdAt) / 3600)) hours before the sender saw it; not sent (older than the mail sender's limit)")
            return
        }
        let message: [UInt8]
        do {
            message = try await compose(e)
        } catch {
            await record(e, .parked, "\(error)")
            return
        }
        guard await record(e, .queued, "attempt \(e.attempts + 1)") else { return }
        let result = await Self.run(options.sendmail, input: message, timeout: options.timeout)
        if let failure = result {
            let final = e.attempts + 1 >= options.maxAttempts
            await record(e, final ? .parked : .failed, final ? "gave up after \(e.attempts + 1) attempts: \(failure)" : failure)
        } else {
            await record(e, .delivered, "handed to \(options.sendmail.first ?? "sendmail")")
        }
    }

    struct ComposeError: Error, CustomStringConvertible {
        var description: String
    }

    /// The message for one outbox entry.
    public func compose(_ e: Outbox.Entry) async throws -> [UInt8] {
        guard let t = try await processor.ticket(e.ticket) else { throw ComposeError(description: "ticket #\(e.ticket) is gone") }
        guard let c = t.comments.first(where: { $0.number == e.comment }) else {
            throw ComposeError(description: "#\(e.ticket) has no comment \(e.comment)")
        }
        var contact = await processor.contact(e.contact)
        var hops = 0
        while let into = contact?.mergedInto, hops < 100 { contact = await processor.contact(into); hops += 1 }
        guard let contact else { throw ComposeError(description: "no contact \(e.contact)") }
        guard let address = contact.emails.first else { throw ComposeError(description: "\(contact.name) has no e-mail address") }
        let account = await processor.account
        let staff = c.author.staffId.flatMap { account.staff[$0] }
        let recipientIndex = c.notify.firstIndex(of: .contact(e.contact)) ?? 0
        let template = MailTemplate.for(language: t.language)
        var text = c.text
        text += "\n\n-- \n" + (staff?.name ?? account.name)
        if let sig = staff?.signature, !sig.isEmpty { text += "\n" + sig }
        text += "\n\n" + template.footer(ticket: t.number)
        var attachments: [OutgoingMail.Attachment] = []
        for a in c.attachments {
            guard blobs.contains(a.sha256) else { throw ComposeError(description: "attachment \(a.filename) is missing from the blob store") }
            attachments.append(.init(filename: a.filename, contentType: a.contentType, bytes: try blobs.read(a.sha256)))
        }
        let tag = "[#\(t.number)]"
        let subject = t.subject.contains(tag) ? t.subject : "\(tag) \(t.subject)"
        let mail = OutgoingMail(
            from: MailAddress(name: options.fromName ?? account.name, address: options.fromAddress),
            to: [MailAddress(name: contact.name, address: address)],
            subject: "Re: " + subject,
            messageId: token.messageId(ticket: t.number, comment: c.number, recipient: recipientIndex),
            inReplyTo: t.lastMessageId, references: t.lastMessageId.map { [$0] } ?? [],
            date: clock.now(), text: text, attachments: attachments,
            headers: [("X-Helpdesk-Ticket", String(t.number))])
        return MailComposer.compose(mail)
    }

    /// Records a delivery outcome and waits until the outbox has folded it. False if it could not be recorded.
    @discardableResult
    func record(_ e: Outbox.Entry, _ status: DeliveryStatus, _ detail: String) async -> Bool {
        do {
            let o = try await processor.execute(Command(actor: actor, .recordDelivery(
                ticket: e.ticket, comment: e.comment, recipient: .contact(e.contact), status: status, detail: String(detail.prefix(1000)))))
            if let s = o.sequences.max() { try await runner.waitUntil(s, projection: outbox.name) }
            return true
        } catch {
            return false
        }
    }

    /// Runs the sendmail program with `input` on its standard input; nil on success, else why it failed.
    ///
    /// Spawned with `posix_spawn` and a clean signal mask (a child of a dispatch thread would inherit
    /// blocked signals), fed from a separate thread, reaped with `waitpid`; past `timeout` it is killed
    /// (SIGKILL) and the attempt fails, whatever it exits with later. A program that closes its input
    /// early cannot kill the desk with SIGPIPE (ignored: the write fails with EPIPE instead), and a
    /// background process it leaves holding stderr does not hold the sender.
    static func run(_ command: [String], input: [UInt8], timeout: TimeInterval) async -> String? {
        guard let program = command.first else { return "no sendmail program configured" }
        guard FileManager.default.isExecutableFile(atPath: program) else { return "\(program) is not an executable program" }
        signal(SIGPIPE, SIG_IGN)
        return await withCheckedContinuation { (k: CheckedContinuation<String?, Never>) in
            Thread.detachNewThread {
                k.resume(returning: spawnAndWait(command, input: input, timeout: timeout))
            }
        }
    }

    /// glibc's `pipe2`, which Swift's Glibc module does not export (it is a GNU extension).
    nonisolated(unsafe) static let pipe2: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32)? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2").map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self) }

    /// A pipe whose ends are close-on-exec from the start, so that the child gets only its dup2'd
    /// copies, and no program another thread starts meanwhile inherits an end: a stray copy of the
    /// stdin write end kept a sendmail waiting for end of input until that other program exited
    /// (setting FD_CLOEXEC after `pipe()` leaves that window open; `pipe()` is the fallback).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        if let pipe2 { return fds.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) } == 0 }
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    static func spawnAndWait(_ command: [String], input: [UInt8], timeout: TimeInterval) -> String? {
        let program = command[0]
        var inPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard makePipe(&inPipe) else { return "cannot make a pipe: errno \(errno)" }
        guard makePipe(&errPipe) else { close(inPipe[0]); close(inPipe[1]); return "cannot make a pipe: errno \(errno)" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attr, &argv, environ)
        close(inPipe[0])
        close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(errPipe[0])
            return "cannot start \(program): \(String(cString: strerror(rc)))"
        }
        // Feed stdin on its own thread: a program that does not read must not block the timeout.
        let writerDone = DispatchSemaphore(value: 0)
        let stdinFd = inPipe[1]
        Thread.detachNewThread {
            input.withUnsafeBytes { buf in
                var done = 0
                while done < buf.count {
                    let n = write(stdinFd, buf.baseAddress! + done, buf.count - done)
                    if n < 0 { if errno == EINTR { continue }; break }
                    done += n
                }
            }
            close(stdinFd)
            writerDone.signal()
        }
        // Collect stderr without blocking.
        let errFd = errPipe[0]
        _ = fcntl(errFd, F_SETFL, fcntl(errFd, F_GETFL) | O_NONBLOCK)
        var stderrBytes: [UInt8] = []
        func drain() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while stderrBytes.count < 4096 {
                let n = buffer.withUnsafeMutableBytes { read(errFd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                stderrBytes += buffer[0..<n]
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            drain()
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        drain()
        close(errFd)
        _ = writerDone.wait(timeout: .now() + 1)
        if timedOut { return "\(program) did not finish within \(Int(timeout)) s and was stopped" }
        let exitedNormally = (status & 0x7f) == 0
        if !exitedNormally { return "\(program) was killed by signal \(status & 0x7f)" }
        let code = (status >> 8) & 0xff
        if code != 0 {
            let why = trimmed(String(decoding: stderrBytes.prefix(500), as: UTF8.self))
            return "\(program) exited with status \(code)" + (why.isEmpty ? "" : ": \(why)")
        }
        return nil
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    func get() -> Bool { lock.withLock { value } }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.withLock { data = d } }
    func get() -> Data { lock.withLock { data } }
}

/// Per-language wording of outgoing mail; English when the language has no template.
public struct MailTemplate: Sendable {
    public var footer: @Sendable (Int) -> String
    public func footer(ticket: Int) -> String { footer(ticket) }

    public static func `for`(language: String) -> MailTemplate {
        switch language.lowercased().prefix(2) {
        case "ru":
            MailTemplate { "Заявка №\($0). Чтобы дополнить её, просто ответьте на это письмо." }
        default:
            MailTemplate { "Ticket #\($0). To add to it, simply reply to this message." }
        }
    }
}
