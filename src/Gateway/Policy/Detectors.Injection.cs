using System.Text.RegularExpressions;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// Prompt injection in data a tool call carries: text written to make a model drop its instructions, take on another
/// persona, reveal its prompt, or believe a new conversation turn has started.
/// </summary>
/// <remarks>
/// Where the line is drawn: a phrase counts when it tells the reader to set aside instructions as such ("ignore all
/// previous instructions", "forget your rules", "disregard the above" ending a sentence), to reveal the prompt itself
/// ("reveal your system prompt", ending there or with "verbatim"), announces a persona ("you are now DAN") or new
/// instructions ("new instructions:"), or forges a chat turn (<c>&lt;|im_start|&gt;system</c>, <c>[INST]</c>,
/// "### System:" at a line start). Benign text that shares the words does not: "do not ignore the warnings" (no
/// instructions are dropped, and a negated verb is advice), "follow the previous instructions in the README" (following
/// is not ignoring), "the system prompt field in the config docs" (naming the prompt is not asking for it), "disregard
/// the above email" and "show the system prompt setting" (the phrase goes on to name something else). Bare
/// "disregard the above." in an e-mail is still reported: a wrongly held call costs a click, a missed injection more.
/// </remarks>
public static partial class Detectors
{
    // The first word or token of every form below. Scanning for these is cheap; the full pattern, with its many
    // alternatives, is then tried only where one starts (it is anchored with \G).
    [GeneratedRegex("""
        \b(?:ignore|disregard|forget|override|bypass|discard|abandon|you|enter|activate|enable|reveal|show|print|output
           |repeat|display|leak|dump|expose|disclose|tell|give|write|spell|what|new)\b
        | <\| | \[/?INST\] | <</?SYS>> | <(?:start|end)_of_turn> | \#{1,6}[ \t]*(?:system|instruction|assistant)
        """, RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace | Exact, MatchTimeoutMilliseconds)]
    private static partial Regex PromptInjectionStart();

    [GeneratedRegex("""
        \G(?:
        # Dropping instructions: a verb, then what is dropped. A negated verb ("do not ignore ...") is advice.
        \b(?:ignore|disregard|forget|override|bypass|discard|abandon)(?<!(?:\bnot|\bnever|n't)\s{1,8}[a-z]+)\s+
        (?:(?:(?:all|any|every|each|of|the|your|my|these|those)\s+){0,4}
           (?:previous|prior|above|earlier|preceding|foregoing|former|original|initial|old|existing|system|developer|safety|hidden)\s+
           (?:instructions?|prompts?|directions?|directives?|rules|guidelines|guidance|constraints|restrictions|programming|guardrails)\b
         | (?:all\s+(?:of\s+)?)?your\s+(?:(?:current|existing|original|initial|safety|system)\s+)?
           (?:instructions|prompt|directives|programming|guidelines|rules|guardrails|restrictions|constraints|training)\b
         | (?:(?:all|everything|anything)\s+)?(?:(?:of\s+)?the\s+|what\s+(?:was|is|you\s+were)\s+(?:said|written|told|given)\s+)?
           (?:above|before)(?=\s*(?:$|[.,;:!]|and\b|then\b|instead\b))
         | everything\s+(?:you\s+(?:were|have\s+been)\s+told|before\s+this)\b)

        # A new persona. DAN is matched in capitals only: "you are now Dan's manager" is a hand-over.
        | \byou\s+are\s+(?:now\s+)?(?-i:DAN)\b
        | \byou\s+are\s+now\s+(?:in\s+)?(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|(?:developer|god|jailbreak)\s+mode)\b
        | \b(?:enter|activate|enable)\s+(?:jailbreak|(?-i:DAN))\s+mode\b

        # Asking for the prompt itself, where the request ends there (not "show the system prompt setting").
        | \b(?:reveal|show|print|output|repeat|display|leak|dump|expose|disclose|tell\s+me|give\s+me|write\s+out|spell\s+out)\s+(?:me\s+)?
          (?:(?:your|the)\s+(?:(?:full|entire|complete|exact|original|initial|hidden|secret|internal)\s+){0,3}
             (?:system\s+(?:prompt|message|instructions)|(?:initial|original|hidden|secret|internal)\s+(?:prompt|instructions))
           | your\s+(?:prompt|instructions))
          (?=\s*(?:$|[.,;:!?)"'\]]|and\b|verbatim\b|word\s+for\s+word\b|in\s+full\b|exactly\b|above\b|below\b))
        | \bwhat\s+(?:is|are|was|were)\s+your\s+(?:(?:full|exact|original|initial|hidden|secret)\s+)?(?:system\s+prompt|instructions)(?=\s*(?:$|[.,;:!?]))

        # Announced instructions.
        | \bnew\s+(?:system\s+)?instructions?\s*:

        # Forged conversation turns: chat-template tokens (ChatML, Llama, Gemma) and role headings at a line start.
        | <\|\s*(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\s*\|>
        | \[/?INST\] | <</?SYS>> | <(?:start|end)_of_turn>
        | (?<=^[ \t>]*)\#{1,6}[ \t]*(?:system|instruction|assistant)(?:[ \t]+(?:prompt|message|override))?[ \t]*:
        )
        """, RegexOptions.IgnoreCase | RegexOptions.Multiline | RegexOptions.IgnorePatternWhitespace | Exact, MatchTimeoutMilliseconds)]
    private static partial Regex PromptInjection();

    private static void FindPromptInjections(string text, string detector, List<Finding> candidates)
    {
        var at = 0;
        while (at < text.Length)
        {
            var start = PromptInjectionStart().Match(text, at);
            if (!start.Success)
            {
                return;
            }

            var match = PromptInjection().Match(text, start.Index);
            if (match.Success)
            {
                candidates.Add(new Finding(detector, match.Index, match.Length));
                at = match.Index + match.Length;
            }
            else
            {
                at = start.Index + 1;
            }
        }
    }
}
