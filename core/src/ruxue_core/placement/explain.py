"""One applicant's placement explained in plain Chinese, from the run's cut-offs."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ruxue_core.placement.model import Choice, Cutoff, Outcome, Placement, Priority, Tier


def explain(
    placement: Placement,
    applicant_id: str,
    category_labels: Mapping[int, str] | None = None,
    school_names: Mapping[str, str] | None = None,
) -> str:
    """Say where an applicant was placed and why, school by school down their list.

    :param placement: a run's result.
    :param applicant_id: the receipt number.
    :param category_labels: the season's category names (e.g. ``{1: "房户一致"}``).
    :param school_names: school names by code; a school is named ``名称（代码）``, or by its
        code where no name is given.
    :return: several lines of Chinese: the category, the lottery number where it decided
        anything, each school's cut-off on the list and the round that placed them.
    :raises KeyError: the applicant was not in the run.
    """
    outcome = placement.outcomes[applicant_id]
    applicant = placement.applicants[applicant_id]
    mine = outcome.priority
    labels = category_labels or {}
    names = school_names or {}

    def school(code: str) -> str:
        return f"{names[code]}（{code}）" if names.get(code) else code

    lines = [f"办件 {applicant_id} 的派位结果：{_headline(outcome, school)}"]
    category = f"第 {mine.category} 顺位" + (
        f"（{labels[mine.category]}）" if mine.category in labels else ""
    )
    lines.append(
        f"入学类别：{category}。" + (f"排序条件：{_keys(mine.keys)}。" if mine.keys else "")
    )
    if applicant.sibling_group is not None:
        lines.append(f"与同胞一同派位（同一组，按办件 {mine.receipt_no} 的摇号号码排位）。")
    first = applicant.choices[0] if applicant.choices else None
    lines.extend(_private_line(outcome, first, school))
    lottery_used = False
    for position, choice in enumerate(applicant.choices, start=1):
        cutoff = placement.cutoffs[choice.school]
        text, used = _school_line(outcome, position - 1, cutoff, mine)
        lottery_used = lottery_used or used
        lines.append(f"{position}. 【{choice.tier.label}】{school(choice.school)}：{text}")
    if lottery_used:
        lines.append(f"摇号号码：{lottery_text(mine.lottery_number)}（数字越小越靠前）。")
    return "\n".join(lines)


def _private_line(
    outcome: Outcome, first: Choice | None, school: Callable[[str], str]
) -> list[str]:
    """The guardian's private-school choice (公民同招) and what became of it."""
    if first is None or first.tier is not Tier.PRIVATE:
        return []
    if outcome.choice_index == 0:
        return [f"您选择了民办学校 {school(first.school)}（公民同招），摇号录取。"]
    return [f"您选择了民办学校 {school(first.school)}（公民同招），未被录取，按公办学校派位。"]


def _headline(outcome: Outcome, school: Callable[[str], str]) -> str:
    if outcome.school is None:
        assert outcome.reason is not None
        return f"暂未录取，转入统筹：{outcome.reason.label}。"
    assert outcome.tier is not None and outcome.choice_index is not None
    seat = "（政策性照顾名额）" if outcome.reserved else ""
    return (
        f"录取到 {school(outcome.school)}{seat}，"
        f"在「{outcome.tier.label}」轮次录取（名单第 {outcome.choice_index + 1} 项）。"
    )


def _school_line(outcome: Outcome, index: int, cutoff: Cutoff, mine: Priority) -> tuple[str, bool]:
    """The line for one school on the list, and whether the lottery decided there."""
    seats = f"计划 {cutoff.capacity} 个学位，录取 {cutoff.admitted} 人"
    last, refused = cutoff.last_admitted, cutoff.first_refused
    if outcome.choice_index is not None and index > outcome.choice_index:
        return "已在名单前面的学校录取，未参与此校派位。", False
    if outcome.choice_index == index:
        if refused is None:
            return f"录取。{seats}，学位未满，申请者均被录取。", False
        return f"录取。{seats}，学位已满；{_cutoff(last)}。", _tied(mine, refused)
    tie = last is not None and _tied(mine, last)
    if last is None:
        return f"未录取。{seats}，学位已由照顾名额或排位更前的学生占满。", False
    why = "同类别、同排序条件下摇号号码靠后" if tie else "排位在录取线之后"
    return f"未录取。{seats}，学位已满；{_cutoff(last)}，您{why}。", tie


def _tied(mine: Priority, other: Priority) -> bool:
    """Same category and ordering keys: only the lottery number told the two apart."""
    return (mine.category, mine.keys) == (other.category, other.keys)


def _cutoff(last: Priority | None) -> str:
    if last is None:
        return "录取线：无"
    text = f"录取线：第 {last.category} 顺位"
    if last.keys:
        text += f"、排序条件 {_keys(last.keys)}"
    return text + f"、摇号号码 {lottery_text(last.lottery_number)}"


def _keys(keys: tuple[int, ...]) -> str:
    return "、".join(str(key) for key in keys)


def lottery_text(number: int) -> str:
    """A lottery number for people: the first 16 hex digits of a 256-bit draw, else decimal."""
    if number >= 1 << 128:
        return f"{number:064x}"[:16] + "…"
    return str(number)
