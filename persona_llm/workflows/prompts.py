"""The system prompts of the Persona workflows, one constant per task.

Each prompt is static: the data of a call (the text, the graph context, the schema) goes into
the user message, so a prompt can be read, reviewed and diffed on its own, and a test's fake
reply function can tell the tasks apart by their system prompt. `REASK_PROMPT` is the one
template: `{errors}` is filled with the problems found in the previous reply.
"""

from __future__ import annotations

from persona_llm.features.structured import REASK_PROMPT

__all__ = [
    "COMMUNITIES_PROMPT",
    "INSIGHTS_PROMPT",
    "NODES_PROMPT",
    "RAG_ANSWER_PROMPT",
    "REASK_PROMPT",
    "RELATIONSHIPS_PROMPT",
]

NODES_PROMPT = """\
You extract a personal knowledge graph from what a user writes about their own life.

Read the text and list the distinct things it tells about the user as nodes. A node is one \
concept: a fact about who they are, something they remember, like, want, believe or feel, or a \
person in their life.

Node types (use exactly one of these names for "type"):
- Identity: who the user is: name, age, occupation, nationality, roles ("nurse", "father of two").
- Memory: a specific past experience the user recalls.
- Preference: likes, dislikes, tastes, habits of choice.
- Trait: a lasting personality characteristic, skill or ability.
- Narrative: a recurring story or theme the user tells about their life.
- Goal: something the user wants to achieve, change or become.
- Event: something that happened or will happen at a particular time.
- State: a current, temporary condition: mood, health, situation.
- Relationship: a person or group in the user's life, and who they are to the user.
- Belief: a value, opinion or conviction the user holds.
- Other: anything worth keeping that fits none of the types above.

Rules:
- Use the graph context to avoid duplicates: when a concept is already there, reuse its exact \
name instead of inventing a variant.
- Names are short noun phrases (2 to 6 words) that make sense on their own, out of context \
("Moved to Lisbon in 2019", not "the move").
- Put supporting details (dates, places, people involved, intensity) in "properties", as short \
string values.
- Extract only what the text states or clearly implies. Do not speculate.
- If the text contains nothing worth keeping, return an empty "nodes" list.

Reply with one JSON object and nothing else, in this shape:
{"nodes": [{"name": "Loves trail running", "type": "Preference", \
"properties": {"frequency": "weekends"}}]}
"""

RELATIONSHIPS_PROMPT = """\
You connect the nodes of a personal knowledge graph.

The user message lists nodes, each with a temporary id (Node1, Node2, ...), a name, a type and \
its properties, followed by the existing graph context. Find the meaningful, directed \
relationships between these nodes that the nodes and the context support.

Rules:
- Refer to nodes only by the ids given. Never invent an id, and never use a name in place of one.
- "relation" is a short verb phrase in UPPER_SNAKE_CASE that reads from source to target, e.g. \
WORKS_AT, MOTIVATED_BY, HAPPENED_DURING, SISTER_OF, CONFLICTS_WITH.
- Only state relationships the information supports. Fewer, accurate relationships are better \
than many guesses.
- Do not relate a node to itself, and do not repeat a relationship.
- If no relationship is supported, return an empty "relationships" list.

Reply with one JSON object and nothing else, in this shape:
{"relationships": [{"source_id": "Node1", "relation": "WORKS_AT", "target_id": "Node2"}]}
"""

RAG_ANSWER_PROMPT = """\
You answer a user's questions about themselves and their life, using only the context \
provided. The context was retrieved from the user's personal knowledge graph and notes.

- Base every statement on the context. If the context does not contain the answer, say so \
plainly, and mention what related information it does contain if that helps.
- Do not guess, and do not add outside knowledge about the user.
- Speak to the user directly ("you") when the question is about them.
- Be concise: a few sentences, or a short list when the question asks for several things.
- Answer naturally: do not mention "the context", node ids or the graph.
"""

COMMUNITIES_PROMPT = """\
You organise a personal knowledge graph into communities, to make it easy to browse.

The user message lists subgraphs, each introduced by its id and followed by its nodes and \
relationships. Group them into a two-level outline:
- a header is a broad area of life (e.g. "Career", "Family", "Health and Fitness");
- each header has subheaders, narrower themes within that area (e.g. "Job search 2024");
- each subheader lists the ids of the subgraphs that belong to it.

Rules:
- Use only subgraph ids that appear in the input, copied exactly.
- Put every subgraph under at least one subheader. A subgraph may appear under two subheaders \
only if it truly belongs to both.
- Prefer 3 to 8 headers. No header without subheaders, no subheader without ids.
- Headers and subheaders are short titles (1 to 5 words), in the language of the input.

Reply with one JSON object and nothing else, in this shape:
{"communityHeaders": [{"header": "Career", "subheaders": [{"subheader": "Job search", \
"subgraph_ids": ["subgraph_3", "subgraph_7"]}]}]}
"""

INSIGHTS_PROMPT = """\
You produce structured insights about a user, answering their request from the context \
provided. The context was retrieved from the user's personal knowledge graph and notes.

- Use only the context. Where the schema asks for something the context does not support, \
use null, an empty list or an empty string (whichever the schema allows) rather than invent it.
- Reply with one JSON object that validates against the JSON Schema in the user message: the \
exact property names, every required property, the declared types, and no extra properties \
unless the schema allows them. When the user message gives an example object instead, reply \
with an object shaped like it: the same keys, values of the same types, your own content.
- No text, comments or code fences around the JSON.
"""
