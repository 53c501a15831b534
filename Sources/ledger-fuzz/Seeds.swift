import Ledger
import LedgerAPI

/// Well-formed inputs for every target, each prefixed with its target byte: the starting corpus
/// for libFuzzer and for the built-in mutation run.
enum Seeds {
    static var all: [(name: String, bytes: [UInt8])] {
        let event = Event(seq: 42, key: "slack:C1:t9", version: 7, type: .errored, sessionId: "S1", reportedSessionId: "S2",
                          owner: "rt", epoch: 3, environment: RuntimeEnvironment(host: "h", volume: "v"), reason: "boom",
                          actor: ActorIdentity(uid: 1000, gid: 1000, pid: 77), time: 1_700_000_000_000_000)
        var conversation = ConversationState(key: "k")
        conversation.version = 9; conversation.sessionId = "S"; conversation.owner = "o"; conversation.epoch = 2
        conversation.environment = RuntimeEnvironment(volume: "v"); conversation.createdAt = -5; conversation.updatedAt = 7; conversation.lastSeq = 11
        var owner = OwnerState(name: "o")
        owner.epoch = 4; owner.environment = RuntimeEnvironment(host: "h"); owner.bootedAt = 99; owner.lastSeq = 12
        let texts: [(String, FuzzTarget, String)] = [
            ("json-object", .json, #"{"a":[1,2.5,-3e10,"x\u00e9\n",true,false,null,{}],"b":{"c":"d"}}"#),
            ("json-numbers", .json, "[0,-0,1e308,18446744073709551615,1.5e-7]"),
            ("created", .transitionBody, #"{"type":"created","sessionId":"S1","expectedVersion":0,"owner":"rt","epoch":1,"environment":{"host":"h","volume":"v","cwd":"/w","provider":"p"}}"#),
            ("resumed", .transitionBody, #"{"type":"resumed","sessionId":"S1","expectedVersion":3}"#),
            ("errored", .transitionBody, #"{"type":"errored","sessionId":"S1","reason":"error_during_execution","reportedSessionId":"S2"}"#),
            ("cleared", .transitionBody, #"{"type":"cleared","sessionId":"S1","reason":"user reset"}"#),
            ("boot", .bootBody, #"{"environment":{"host":"h","volume":"v"},"invalidate":"mismatched"}"#),
            ("timestamp", .timestamp, "2026-11-21T04:39:43.123456Z"),
            ("date", .timestamp, "2026-11-21"),
            ("http-pipelined", .httpRequest, "POST /v1/sessions/k/transitions HTTP/1.1\r\nhost: x\r\ncontent-length: 12\r\n\r\n{\"type\":\"x\"}GET /v1/sessions/k HTTP/1.0\r\nconnection: keep-alive\r\n\r\n"),
            ("http-chunked", .httpRequest, "POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\ntrailer: t\r\n\r\n"),
        ]
        var seeds = texts.map { (name, target, text) in (name, [target.rawValue] + Array(text.utf8)) }
        seeds.append(("record", [FuzzTarget.storedRecord.rawValue] + StoredRecord.seal(event, after: .genesis).bytes))
        seeds.append(("event", [FuzzTarget.eventBody.rawValue] + EventCodec.encode(event)))
        seeds.append(("conversation", [FuzzTarget.conversationState.rawValue] + StateCodec.encode(conversation)))
        seeds.append(("session", [FuzzTarget.sessionRecord.rawValue] + StateCodec.encode(SessionRecord(key: "k", endedSeq: 5, endedBy: .cleared))))
        seeds.append(("owner", [FuzzTarget.ownerState.rawValue] + StateCodec.encode(owner)))
        return seeds
    }
}
