"""Ordering stories by what matters to a teacher, with the parts of each score kept.

score = recency + engagement + standout + sharing + boost + feedback - spam, where
- recency halves every RECENCY_HALF_LIFE_HOURS from the story's newest post
  (a repost is a share of a post, not a post of the day: it counts below);
- engagement is the best percentile any of its posts reaches among the
  window's posts of the same network and source (a like on a small
  Mastodon tag is not a like on #edchat, and a feed with no counts at all
  is neutral, 0.5), times ENGAGEMENT_WEIGHT;
- standout is STANDOUT_BONUS when one of its posts stands far above every
  other post of its source in the window (`digests.engagement`): a
  percentile cannot tell that post from a dozen ordinary ones at the top;
- sharing grows with log2 of how many people shared it, reposts included
  (0 for one);
- boost is BOOST_BONUS when any of its posts mentions a recipient's boost term;
- feedback is FEEDBACK_WEIGHT for each of its lead's source, author and
  topic the teacher asked more of ("more like this"), minus as much for
  each they asked less of;
- spam takes away SPAM_KEEP's complement of the rest when the lead post looks
  like spam (`aggregator.domain.spam`, through the batch's `DigestMemo`), so
  spam sinks but never disappears.
Pure: the clock comes in as `now`. A digest reads its best stories only
(`Ranking`): each source's stories of one post are scored and sorted once
for every digest reading it (`digests.sources`), and merged with the
digest's own as far as they are read.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.domain.feedback import NO_LEANINGS, LeaningKind, Leanings, topic_of
from aggregator.domain.post import Post
from aggregator.domain.recipient import RecipientConfig
from digests.cluster import Story
from digests.engagement import SourceStanding, Standing, Standout
from digests.lazy import Lazy
from digests.memo import DigestMemo
from digests.select import Phrases, compile_phrases, mentions
from digests.sources import SourceWindow

RECENCY_HALF_LIFE_HOURS = 6.0
ENGAGEMENT_WEIGHT = 1.0
SHARING_WEIGHT = 0.5
# A boost outweighs a day of age: a boosted post from yesterday still beats
# a quiet, unboosted one from just now.
BOOST_BONUS = 1.0
# As much as a boost: the day's remarkable post of a source outranks a
# day's worth of fresher, ordinary ones.
STANDOUT_BONUS = 1.0
# Half a boost per source, author or topic: "less like this" on all three
# sinks a story below a day-old one, and never hides it.
FEEDBACK_WEIGHT = 0.5
# A spammy story keeps this fraction of its score.
SPAM_KEEP = 0.2


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """A story's score, part by part (see the module docstring); `spam` is <= 0.

    `standout` is the bonus of `standing_out`, the post of the story that
    stands out in its source (None when none does, or the story looks like
    spam: spam never stands out).
    """

    recency: float
    engagement: float
    sharing: float
    boost: float
    spam: float
    spam_reasons: tuple[str, ...] = ()
    standout: float = 0.0
    standing_out: Standout | None = None
    feedback: float = 0.0

    @property
    def total(self) -> float:
        """The score used to rank: the sum of the parts."""
        return (
            self.recency
            + self.engagement
            + self.standout
            + self.sharing
            + self.boost
            + self.feedback
            + self.spam
        )


@dataclass(frozen=True, slots=True)
class RankedStory:
    """A story with its score; `rank` counts from 1 (best)."""

    story: Story
    score: ScoreParts
    rank: int


def score_story(
    story: Story,
    standing: Standing,
    boost: Phrases | None,
    now: datetime,
    memo: DigestMemo | None = None,
    leanings: Leanings = NO_LEANINGS,
) -> ScoreParts:
    """The parts of `story`'s score at `now` (a post dated after `now` is brand
    new), its posts' engagement judged by `standing`, the teacher's
    "more / less like this" by `leanings`."""
    own = story.own_posts  # a repost counts as a share, not as a post of the day
    memo = DigestMemo() if memo is None else memo
    if len(story.posts) == 1:  # the common case: one post, one sharer
        newest, best, sharing = story.lead.published_at, standing.percentile(story.lead), 0.0
    else:
        newest = max(post.published_at for post in own)
        best = max(standing.percentile(p) for p in own)
        sharing = SHARING_WEIGHT * math.log2(max(story.sharer_count, 1))
    age_hours = max((now - newest).total_seconds(), 0.0) / 3600
    recency = math.pow(0.5, age_hours / RECENCY_HALF_LIFE_HOURS)
    lead = memo.facts_of(story.lead)
    if boost is None:
        found = False
    elif len(own) == 1:  # its lead
        found = mentions(boost, story.lead, lead)
    else:
        found = any(mentions(boost, p, memo.facts_of(p)) for p in own)
    bonus = BOOST_BONUS if found else 0.0
    leaning = FEEDBACK_WEIGHT * _leaning(story.lead, leanings)
    reasons = lead.spam
    if reasons:
        base = recency + ENGAGEMENT_WEIGHT * best + sharing + bonus + leaning
        penalty = -(1 - SPAM_KEEP) * max(base, 0.0)
        return ScoreParts(
            recency, ENGAGEMENT_WEIGHT * best, sharing, bonus, penalty, reasons, feedback=leaning
        )
    standout = _standout(own, standing)
    return ScoreParts(
        recency,
        ENGAGEMENT_WEIGHT * best,
        sharing,
        bonus,
        0.0,
        standout=STANDOUT_BONUS if standout else 0.0,
        standing_out=standout,
        feedback=leaning,
    )


def _leaning(post: Post, leanings: Leanings) -> int:
    """The sum of the teacher's directions for the post's source, author and topic."""
    if not leanings:
        return 0
    return (
        leanings.direction(LeaningKind.SOURCE, post.source_key)
        + leanings.direction(LeaningKind.AUTHOR, post.author)
        + leanings.direction(LeaningKind.TOPIC, topic_of(post))
    )


def _standout(own: Sequence[Post], standing: Standing) -> Standout | None:
    """The post of `own` (a story's own posts) that stands out most in its source, if any does."""
    found = [s for s in map(standing.standout, own) if s is not None]
    return max(found, key=lambda s: (s.over_runner_up, s.engagement), default=None)


SortKey = tuple[float, float, str, str]


def _sort_key(score: ScoreParts, story: Story) -> SortKey:
    """Best score first; equal scores newest lead first, then by external_id and source_key."""
    lead = story.lead
    return (-score.total, -lead.published_at.timestamp(), lead.external_id, lead.source_key)


def _lone_scores(
    memo: DigestMemo, judged: SourceStanding | None, now: datetime
) -> dict[int, tuple[SortKey, ScoreParts]]:
    """The sort keys and scores of the one-post stories of a source judged as
    `judged`, at `now`, by the id of their post, as far as worked out: the
    same in every digest of the batch judging that source alike, unless the
    teacher's boost words or leanings touch the post."""
    key = (id(judged), now)
    found = memo.lone_scores.find(key)
    if found is None:
        # The entry holds `judged`, which holds the posts: no id is another's.
        found = memo.lone_scores.put(key, (judged, {}))
    return found[1]


Scored = tuple[SortKey, ScoreParts, Story]


def _key_of(scored: Scored) -> SortKey:
    return scored[0]


class Ranking(Lazy[RankedStory]):
    """Stories best first, ranked as far as they are read.

    A digest of a thousand candidate stories reads its best few dozen:
    ranked stories are made from `stories` only as they are asked for.
    `standouts` is how many of all of them stand out in their source
    (`ScoreParts.standing_out`); `read_standouts` reads on until every one
    of them is read.
    """

    def __init__(self, stories: Iterable[RankedStory], standouts: int) -> None:
        super().__init__(self._counted(stories))
        self.standouts, self._standouts_read = standouts, 0

    def _counted(self, stories: Iterable[RankedStory]) -> Iterator[RankedStory]:
        for item in stories:
            if item.score.standing_out is not None:
                self._standouts_read += 1
            yield item

    @classmethod
    def merged(
        cls,
        scored: Sequence[Scored],
        runs: Iterable[Sequence[Scored]],
        skip: set[int],
        standouts: int,
    ) -> Ranking:
        """The ranking of `scored` and `runs`, each sorted by its sort key,
        leaving out of `runs` the stories whose lead's id is in `skip`."""
        kept = (
            run if not skip else (item for item in run if id(item[2].lead) not in skip)
            for run in runs
            if run
        )
        merged = heapq.merge(scored, *kept, key=_key_of)
        ranked = (RankedStory(story, score, i) for i, (_, score, story) in enumerate(merged, 1))
        return cls(ranked, standouts)

    def read_standouts(self) -> int:
        """Read on until every story standing out is read; how many are read then."""
        while self._standouts_read < self.standouts and self.get(len(self.read)) is not None:
            pass
        return len(self.read)


def _singles_run(
    window: SourceWindow, now: datetime, memo: DigestMemo
) -> tuple[list[Scored], tuple[int, ...]]:
    """The one-post stories of `window.singles` scored at `now`, sorted, and
    the ids of the leads of those standing out: worked out once for every
    digest reading the window."""
    found = window.ranked.get(now)
    if found is None:
        standing = Standing(window.standings)
        run = [_lone_score(story, standing, now, memo) for story in window.singles]
        run.sort(key=_key_of)
        standing_out = tuple(id(story.lead) for _, score, story in run if score.standing_out)
        found = window.ranked[now] = (run, standing_out)
    return found


def _lone_score(story: Story, standing: Standing, now: datetime, memo: DigestMemo) -> Scored:
    """A one-post story's sort key and score, remembered (`_lone_scores`)."""
    lead = story.lead
    table = _lone_scores(memo, standing.of(lead), now)
    found = table.get(id(lead))
    if found is None:
        score = score_story(story, standing, None, now, memo)
        found = table[id(lead)] = (_sort_key(score, story), score)
    return (*found, story)


def rank_stories(
    stories: Sequence[Story],
    recipient: RecipientConfig,
    now: datetime,
    memo: DigestMemo | None = None,
    *,
    leanings: Leanings = NO_LEANINGS,
    sources: Sequence[SourceWindow],
) -> Ranking:
    """The stories best first, with their scores (`leanings`: the teacher's
    "more / less like this").

    Deterministic: equal scores go newest lead first, then by external_id
    and source_key, so the same input always gives the same digest.
    `memo` carries spam signals and the scores of one-post stories over
    from other digests (see `DigestMemo`). `sources` are the windows of
    all the digest's sources (`digests.sources`): their engagement is
    judged there, and their posts that `stories` do not hold are stories
    of their own, most as scored once for the batch.
    """
    memo = DigestMemo() if memo is None else memo
    standing = Standing(judged for window in sources for judged in window.standings)
    boost = compile_phrases(recipient.boost)
    leaning = bool(leanings)
    scored: list[Scored] = []
    runs: list[Sequence[Scored]] = []
    standouts = 0
    # The windows' posts grouped here, and those the teacher's boost words
    # or leanings touch, are scored for this digest alone: not as read from
    # the windows' runs.
    left_out = {id(post) for story in stories for post in story.posts}
    for window in sources:
        run, standing_out = _singles_run(window, now, memo)
        touched = set() if boost is None else window.singles_mentioning(boost, memo)
        if leaning:
            touched = {id(s.lead) for s in window.singles if _leaning(s.lead, leanings)} | touched
        touched = touched - left_out
        if touched:
            stories = [*stories, *(s for s in window.singles if id(s.lead) in touched)]
            left_out |= touched
        runs.append(run)
        standouts += sum(1 for lead in standing_out if lead not in left_out)
    for story in stories:
        lead = story.lead
        if (
            len(story.posts) > 1
            or (boost is not None and mentions(boost, lead, memo.facts_of(lead)))
            or (leaning and _leaning(lead, leanings))
        ):
            score = score_story(story, standing, boost, now, memo, leanings)
            scored.append((_sort_key(score, story), score, story))
        else:
            scored.append(_lone_score(story, standing, now, memo))
    scored.sort(key=_key_of)
    standouts += sum(1 for _, score, _ in scored if score.standing_out)
    return Ranking.merged(scored, runs, left_out, standouts)
