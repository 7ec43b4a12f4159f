import DeskServer
import EventLog
import Foundation
import Mail
import MailDesk
import SupportDesk
import Testing

/// A sendmail stand-in: writes each message it is given to a folder (or fails, when told to).
struct TestSendmail {
    let dir: URL
    let outbox: URL
    let script: URL

    init(failing: Bool = false) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sendmail-\(UUID().uuidString)")
        outbox = dir.appendingPathComponent("sent")
        try FileManager.default.createDirectory(at: outbox, withIntermediateDirectories: true)
        script = dir.appendingPathComponent("sendmail")
        let body = failing
            ? "#!/bin/sh\ncat > /dev/null\necho 'relay refused: 550 mailbox unavailable' >&2\nexit 1\n"
            : "#!/bin/sh\ncat > \"\(outbox.path)/$(date +%s%N).eml.tmp\" && for f in \"\(outbox.path)\"/*.tmp; do mv \"$f\" \"${f%.tmp}\"; done\n"
        try body.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
    }

    /// The messages sent so far, parsed.
    func sent() -> [MailMessage] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outbox.path))?.filter { $0.hasSuffix(".eml") }.sorted() ?? []
        return names.compactMap { FileManager.default.contents(atPath: outbox.appendingPathComponent($0).path) }.map { MailMessage.parse(Array($0)) }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: dir) }
}

extension Desk {
    func openWithMail(_ sendmail: TestSendmail, maxAttempts: Int = 5) async throws -> DeskService {
        var o = ServerOptions(dataDirectory: url)
        o.port = 0
        o.adminToken = Self.adminToken
        o.mailDomain = "desk.example"
        var m = MailSenderOptions()
        m.sendmail = [sendmail.script.path]
        m.fromAddress = "support@desk.example"
        m.pollInterval = 0.05
        m.maxAttempts = maxAttempts
        o.mailSender = m
        return try await DeskService.open(o).0
    }
}

/// `ingestBlocking` on a thread of its own: it waits for a process that talks to the service in this
/// process, whose handlers need the (two, on CI) threads of Swift's concurrency pool — blocking one
/// of them from a test while another test blocks the other stalled the service until the ingest
/// timed out.
func ingest(_ message: String, port: Int, token: String) async throws -> (Int32, String, String) {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try ingestBlocking(message, port: port, token: token) }) }.start()
    }
}

/// Runs `helpdesk mail ingest` with `message` on its standard input; returns its exit status, stdout and stderr.
func ingestBlocking(_ message: String, port: Int, token: String) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = productsDirectory().appendingPathComponent("helpdesk")
    p.arguments = ["mail", "ingest", "--url", "http://127.0.0.1:\(port)", "--token", token, "--timeout", "20"]
    let input = Pipe(), out = Pipe(), err = Pipe()
    p.standardInput = input
    p.standardOutput = out
    p.standardError = err
    try p.run()
    input.fileHandleForWriting.write(Data(message.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func waitFor(_ what: String, seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
    Issue.record("timed out waiting for \(what)")
}

@Suite("E-mail channel end to end: mail ingest → ticket → answer by sendmail → reply from another address", .serialized)
struct MailEndToEndTests {
    @Test("a client's mail opens a ticket; the answer goes out signed; the reply from a new address lands in the same ticket")
    func roundTrip() async throws {
        let desk = Desk()
        let sendmail = try TestSendmail()
        defer { sendmail.cleanUp() }
        let service = try await desk.openWithMail(sendmail)
        try await serve(service) { api in
            let t = try await api.setUp()
            let gateway = try await api.token(for: "system:mail")
            let port = try #require(api.client.port)
            // The gateway's token posts mail and does nothing else.
            #expect(try await api.get("/tickets", gateway).status == 403)

            let first = """
            From: Ivan <ivan@acme.example>
            To: support@desk.example
            Subject: Printer on fire
            Message-ID: <first-1@acme.example>
            Date: Wed, 05 Mar 2025 12:00:00 +0300
            Content-Type: text/plain; charset=utf-8

            It smokes. What now?
            """
            let (code, out, err) = try await ingest(first, port: port, token: gateway)
            #expect(code == 0, "\(err)")
            let r1 = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] ?? [:]
            #expect(r1["disposition"] as? String == "new")
            let n = try #require(r1["ticket"] as? Int)
            // The same message delivered twice is one comment.
            let (again, out2, _) = try await ingest(first, port: port, token: gateway)
            #expect(again == 0 && out2.contains("duplicate"))
            let afterDuplicate = try await api.get("/tickets/\(n)", t.anna)
            #expect((afterDuplicate.object["ticket"] as? [String: Any])?["comments"].map { ($0 as? [Any])?.count } == 1)

            // Anna answers; the sender hands the answer to sendmail, signed with the ticket token.
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Unplug it and call us."}"#).status == 200)
            try await waitFor("the answer to be sent") { sendmail.sent().count == 1 }
            let answer = try #require(sendmail.sent().first)
            #expect(answer.to.map(\.address) == ["ivan@acme.example"])
            #expect(answer.subject.contains("[#\(n)]") && answer.subject.contains("Printer on fire"))
            #expect(answer.inReplyTo == ["first-1@acme.example"])
            #expect(answer.text.contains("Unplug it and call us.") && answer.text.contains("Anna"))
            let token = try #require(answer.messageId)
            #expect(token.hasSuffix("@desk.example"))
            try await waitFor("the delivery to be recorded") { service.outbox.all.isEmpty }

            // The client answers from a home address the desk has never seen: same ticket, by the token.
            let reply = """
            From: Ivan at home <ivan.home@mail.example>
            To: support@desk.example
            Subject: Re: \(answer.subject)
            Message-ID: <reply-2@mail.example>
            In-Reply-To: <\(token)>
            References: <first-1@acme.example> <\(token)>
            Content-Type: text/plain; charset=utf-8

            Unplugged, the smoke stopped.

            On Wed, 5 Mar 2025, Support wrote:
            > Unplug it and call us.
            """
            let (c3, out3, e3) = try await ingest(reply, port: port, token: gateway)
            #expect(c3 == 0, "\(e3)")
            let r3 = try JSONSerialization.jsonObject(with: Data(out3.utf8)) as? [String: Any] ?? [:]
            #expect(r3["disposition"] as? String == "token" && r3["ticket"] as? Int == n)
            let detail = try await api.get("/tickets/\(n)", t.anna)
            #expect(detail.body.contains("Unplugged, the smoke stopped.") && !detail.body.contains("> Unplug it"))

            // A forged token from a stranger does not reach the ticket: it opens its own.
            let forged = token.replacingOccurrences(of: ".\(n).", with: ".\(n + 1).")
            let (c4, out4, _) = try await ingest("""
            From: Mallory <mallory@evil.example>
            Subject: Re: [#\(n)] Printer on fire
            Message-ID: <forged-3@evil.example>
            In-Reply-To: <\(forged)>

            Let me in.
            """, port: port, token: gateway)
            let r4 = try JSONSerialization.jsonObject(with: Data(out4.utf8)) as? [String: Any] ?? [:]
            #expect(c4 == 0 && r4["disposition"] as? String == "new" && r4["ticket"] as? Int != n)

            // An out-of-office reply to our answer is recorded but changes nothing and sends nothing.
            let before = sendmail.sent().count
            let (c5, out5, _) = try await ingest("""
            From: Ivan <ivan@acme.example>
            Subject: Auto: Re: [#\(n)] Printer on fire
            Message-ID: <ooo-4@acme.example>
            In-Reply-To: <\(token)>
            Auto-Submitted: auto-replied

            I am out of the office.
            """, port: port, token: gateway)
            #expect(c5 == 0 && out5.contains("set-aside"))
            let after = try await api.get("/tickets/\(n)", t.anna)
            #expect(!after.body.contains("out of the office"))
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(sendmail.sent().count == before)

            // A message without a sender can never be accepted: 65 with the reason.
            let (c6, _, e6) = try await ingest("Subject: nobody\n\nhello\n", port: port, token: gateway)
            #expect(c6 == 65 && e6.contains("From"))
        }
        service.close()

        // After a restart nothing is sent again.
        let reopened = try await desk.openWithMail(sendmail)
        try await serve(reopened) { _ in try await Task.sleep(nanoseconds: 500_000_000) }
        reopened.close()
        #expect(sendmail.sent().count == 1)
    }

    @Test("mail ingest exits 75 when the service is down, so the MTA retries")
    func serviceDown() throws {
        let (code, _, err) = try ingestBlocking("From: a@b.example\nSubject: x\n\nhi\n", port: 1, token: "whatever")
        #expect(code == 75 && err.contains("retry"))
    }

    @Test("a send that keeps failing is parked with the reason, visible to staff in the outbox and on the ticket")
    func failuresPark() async throws {
        let desk = Desk()
        let failing = try TestSendmail(failing: true)
        defer { failing.cleanUp() }
        let service = try await desk.openWithMail(failing, maxAttempts: 1)
        try await serve(service) { api in
            let t = try await api.setUp()
            let opened = try await api.post("/tickets", t.anna, #"{"subject":"Call back","body":"Phoned in","contact":{"id":"ivan"},"channel":"phone"}"#)
            let n = try #require(opened.object["ticket"] as? Int)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"We called you back."}"#).status == 200)
            try await waitFor("the entry to be parked") { service.outbox.entries(.parked).count == 1 }
            let parked = try await api.get("/outbox?status=parked", t.boris)
            #expect(parked.status == 200 && parked.body.contains("550 mailbox unavailable"))
            #expect(try await api.get("/outbox", t.ivan).status == 403)
            let detail = try await api.get("/tickets/\(n)", t.anna)
            #expect(detail.body.contains("parked"))
        }
        service.close()
    }

    @Test("attachments: upload, reference in a comment, download only where the caller may see them")
    func attachments() async throws {
        let desk = Desk()
        let service = try await desk.open()
        try await serve(service) { api in
            let t = try await api.setUp()
            let up = try await api.call(.post, "/attachments?filename=screen.png", token: t.ivan, json: nil,
                                        headers: [.contentType: "image/png"], body: "PNGDATA-123")
            #expect(up.status == 201, "\(up.body)")
            let sha = try #require(up.object["sha256"] as? String)
            #expect(up.object["size"] as? Int == 11)
            let ref = #"{"sha256":"\#(sha)","filename":"screen.png","contentType":"image/png","size":11}"#
            let opened = try await api.post("/tickets", t.ivan, #"{"subject":"See picture","body":"Look","attachments":[\#(ref)]}"#)
            let n = try #require(opened.object["ticket"] as? Int)
            let mine = try await api.get("/attachments/\(sha)?ticket=\(n)", t.ivan)
            #expect(mine.status == 200 && mine.body == "PNGDATA-123")
            #expect(try await api.get("/attachments/\(sha)?ticket=\(n)", t.other).status == 404)
            #expect(try await api.get("/attachments/\(sha)", t.ivan).status == 404)
            #expect(try await api.get("/attachments/\(sha)", t.anna).status == 200)
            #expect(try await api.get("/attachments/..%2Fetc", t.anna).status == 404)
        }
        service.close()
    }

    @Test("helpdesk mail import takes a Maildir: new messages become tickets and replies, are flagged seen, and a bad one is reported without stopping the rest")
    func maildirImport() async throws {
        let desk = Desk()
        let service = try await desk.open()
        service.close()
        let maildir = FileManager.default.temporaryDirectory.appendingPathComponent("maildir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: maildir) }
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(at: maildir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        func put(_ name: String, _ text: String, in sub: String = "new") throws {
            try Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: maildir.appendingPathComponent(sub).appendingPathComponent(name))
        }
        try put("1.a", "From: Ivan <ivan@acme.example>\nSubject: VPN down\nMessage-ID: <m1@acme.example>\n\nThe VPN is down.\n")
        try put("2.b", "From: Petr <petr@acme.example>\nSubject: Re: VPN down\nMessage-ID: <m2@acme.example>\nIn-Reply-To: <m1@acme.example>\n\nHere too.\n")
        try put("3.c", "Subject: no sender\n\nwho am I\n")
        try put("4.d:2,S", "From: Old <old@acme.example>\nSubject: already read\nMessage-ID: <m4@acme.example>\n\nseen\n", in: "cur")
        func run() throws -> (Int32, String) {
            let p = Process()
            p.executableURL = productsDirectory().appendingPathComponent("helpdesk")
            p.arguments = ["mail", "import", maildir.path, "--data", desk.url.path]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self))
        }
        let (code, output) = try run()
        #expect(code == 65, "\(output)")
        #expect(output.contains("1 new") && output.contains("1 reference") && output.contains("1 refused") && output.contains("3.c"), "\(output)")
        let cur = try FileManager.default.contentsOfDirectory(atPath: maildir.appendingPathComponent("cur").path).sorted()
        #expect(cur == ["1.a:2,S", "2.b:2,S", "4.d:2,S"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.appendingPathComponent("new").path) == ["3.c"])
        // Run again: nothing new is taken, the bad one is still reported.
        let (again, output2) = try run()
        #expect(again == 65 && output2.contains("1 messages") && output2.contains("1 refused"), "\(output2)")

        let reopened = try await desk.open()
        defer { reopened.close() }
        let t = try #require(try await reopened.processor.ticket(1))
        #expect(t.subject == "VPN down" && t.comments.count == 2 && t.comments[1].text == "Here too.")
        #expect(try await reopened.processor.ticket(2) == nil)
    }
}
