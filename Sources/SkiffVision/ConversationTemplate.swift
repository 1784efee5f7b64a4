/// The prompt formats of InternVL2 / H2OVL checkpoints, named by `config.json`'s `template`
/// (the models' own `conversation.py`, rendered for one user turn). Written out in Swift:
/// each is a fixed string around the message.
public struct ConversationTemplate: Sendable, Equatable {
    public var name: String
    /// Prefix holding the system message (empty when the template has none).
    public var system: String
    public var userRole: String
    public var assistantRole: String
    /// Ends a message; its token also ends generation (`eos_token_id = sep.strip()` in `chat()`).
    public var separator: String
    /// Whether the system prefix is followed by the separator (the MPT style).
    public var separatorAfterSystem: Bool

    /// InternVL2's default system message for Hermes-2 / internlm2-chat (the checkpoints'
    /// `self.system_message`, taken from the template).
    public static let internVLSystemMessage =
        "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。"

    /// The template called `name`, or nil when Skiff does not know it.
    public init?(named name: String, systemMessage: String? = nil) {
        switch name {
        case "Hermes-2", "internlm2-chat":
            // SeparatorStyle.MPT: system + sep, then role + message + sep; the open turn is role only.
            self.init(name: name, system: "<|im_start|>system\n" + (systemMessage ?? Self.internVLSystemMessage),
                      userRole: "<|im_start|>user\n", assistantRole: "<|im_start|>assistant\n", separator: "<|im_end|>",
                      separatorAfterSystem: true)
        case "h2ogpt2":
            // SeparatorStyle.NO_COLON_SINGLE with an empty system message: role + message + sep.
            self.init(name: name, system: systemMessage ?? "", userRole: "<|prompt|>", assistantRole: "<|answer|>",
                      separator: "<|end|>", separatorAfterSystem: false)
        case "phi3-chat":
            self.init(name: name, system: "<|system|>\n" + (systemMessage ?? Self.internVLSystemMessage),
                      userRole: "<|user|>\n", assistantRole: "<|assistant|>\n", separator: "<|end|>",
                      separatorAfterSystem: true)
        default:
            return nil
        }
    }

    public init(name: String, system: String, userRole: String, assistantRole: String, separator: String,
                separatorAfterSystem: Bool) {
        self.name = name
        self.system = system
        self.userRole = userRole
        self.assistantRole = assistantRole
        self.separator = separator
        self.separatorAfterSystem = separatorAfterSystem
    }

    /// One user turn and the assistant's turn opened.
    public func render(question: String) -> String {
        var out = system
        if separatorAfterSystem { out += separator }
        out += userRole + question + separator + assistantRole
        return out
    }
}
