"""The claims table: markdown for the README and the leaderboard, JSON for machines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hyperbench.claims.evaluate import VERDICTS, Finding
from hyperbench.claims.registry import CLAIMS, Claim

__all__ = [
    "CLAIMS_SCHEMA_VERSION",
    "board_section_html",
    "board_section_markdown",
    "claims_json",
    "claims_markdown",
    "claims_table",
    "findings_from_json",
]

#: Version of the ``claims.json`` layout.
CLAIMS_SCHEMA_VERSION = 1

_HEADER = ("claim", "paper's figure", "our figure (95% CI)", "scale of our run", "evidence", "verdict")


_LEGEND = (
    "Verdicts follow each claim's decision rule (`hyperbench claims --rules`), fixed before the confirmatory "
    "run; only a complete run of a suite that pre-registered the rule (its `claims:` field) can be "
    "supported or not supported. Everything else is exploratory: its rules were not fixed in advance, "
    "so its reading of the rule is shown for information only."
)


def _rows(findings: Sequence[Finding], claims: Mapping[str, Claim]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    previous = None
    for f in findings:
        c = claims[f.claim]
        first = f.claim != previous
        previous = f.claim
        claim_cell = f"**{c.statement}** ({c.paper}, {c.where}) `{c.id}`" if first else "″"
        paper_cell = c.paper_figure if first else "″"
        evidence = f.evidence if f.kind == "none" else f"{f.evidence} ({f.kind})"
        verdict = f"**{f.verdict}**" if f.verdict in VERDICTS[:3] else f.verdict
        if f.kind == "exploratory" and f.rule_verdict:
            verdict += f" (rule would say: {f.rule_verdict})"
        rows.append((claim_cell, paper_cell, f.figure, f.scale, evidence, verdict))
    return rows


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def claims_markdown(findings: Sequence[Finding], claims: Mapping[str, Claim] | None = None) -> str:
    """The table as markdown (one row per finding, the claim's cells only on its first row).

    :param findings: from :func:`hyperbench.claims.evaluate.evaluate_claims`
    :param claims: the claims the findings refer to (default: the registry)
    :return: markdown, ending with a newline
    """
    claims = claims if claims is not None else CLAIMS
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(_cell(x) for x in row) + " |" for row in _rows(findings, claims)]
    return "\n".join(lines) + "\n\n" + _LEGEND + "\n"


def claims_json(findings: Sequence[Finding], claims: Mapping[str, Claim] | None = None) -> dict[str, Any]:
    """The table as JSON-able data: every claim with its rule and findings.

    :param findings: from :func:`hyperbench.claims.evaluate.evaluate_claims`
    :param claims: the claims (default: the registry)
    :return: ``{"schema_version", "claims": [{id, paper, where, statement, paper_figure, test, rule, findings}]}``
    """
    claims = claims if claims is not None else CLAIMS
    out = []
    for c in claims.values():
        out.append(
            {
                "id": c.id,
                "paper": c.paper,
                "where": c.where,
                "statement": c.statement,
                "paper_figure": c.paper_figure,
                "test": c.test,
                "rule": {"kind": c.rule.kind, "text": c.rule.text, "params": dict(c.rule.params)},
                "findings": [f.to_dict() for f in findings if f.claim == c.id],
            }
        )
    return {"schema_version": CLAIMS_SCHEMA_VERSION, "claims": out}


def findings_from_json(data: Mapping[str, Any]) -> list[Finding]:
    """The findings stored in a ``claims.json`` (inverse of :func:`claims_json`).

    :param data: decoded ``claims.json``
    :return: findings, claim by claim
    :raises ValueError: on an unknown schema version
    """
    if data.get("schema_version") != CLAIMS_SCHEMA_VERSION:
        raise ValueError(
            f"claims.json schema_version {data.get('schema_version')!r}; this hyperbench reads {CLAIMS_SCHEMA_VERSION}"
        )
    return [Finding(**f) for c in data["claims"] for f in c["findings"]]


def claims_table(root: str = ".", *, reps: int = 2000, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """Evaluate every registered claim from ``root`` and render it.

    :param root: repository root (evidence paths are relative to it)
    :param reps: bootstrap replications
    :param seed: bootstrap seed
    :return: ``(markdown, json_data)``
    """
    from hyperbench.claims.evaluate import evaluate_claims

    findings = evaluate_claims(root, reps=reps, seed=seed)
    return claims_markdown(findings), claims_json(findings)


def _claims_from_json(data: Mapping[str, Any]) -> dict[str, Claim]:
    from hyperbench.claims.registry import Rule

    return {
        c["id"]: Claim(
            c["id"],
            c["paper"],
            c["where"],
            c["statement"],
            c["paper_figure"],
            c["test"],
            Rule(c["rule"]["kind"], c["rule"]["text"], c["rule"]["params"]),
        )
        for c in data["claims"]
    }


def board_section_markdown(data: Mapping[str, Any]) -> str:
    """The leaderboard's "Paper claims" section (Markdown) from a ``claims.json``.

    :param data: decoded ``claims.json`` (written by ``hyperbench claims --board DIR``)
    :return: Markdown, starting with its heading
    """
    return "## Paper claims\n\n<!-- from claims.json, written by `hyperbench claims` -->\n\n" + claims_markdown(
        findings_from_json(data), _claims_from_json(data)
    )


def board_section_html(data: Mapping[str, Any]) -> str:
    """The same section as HTML (escaped; Markdown emphasis and code spans kept as text).

    :param data: decoded ``claims.json``
    :return: an HTML ``<section>``
    """
    import html

    rows = _rows(findings_from_json(data), _claims_from_json(data))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell.replace('**', '').replace('`', ''))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        '<section id="paper-claims"><h2>Paper claims</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p>{html.escape(_LEGEND.replace('`', ''))}</p></section>\n"
    )
