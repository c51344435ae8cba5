import { describe, expect, it } from 'vitest';
import { JUDGE_INSTRUCTION, JUDGE_MAX_CHARS, judgeRequest, judgeVerdict, parseJudgeScore } from './judge.js';

describe('judgeRequest', () => {
  it('asks the judge model for a 0-1 score of the answer to the last user turn, briefly and deterministically', () => {
    const r = judgeRequest(
      'judge-model',
      {
        model: 'auto',
        messages: [
          { role: 'system', content: 'You answer geography questions.' },
          { role: 'user', content: 'capital of Italy?' },
          { role: 'assistant', content: 'Rome.' },
          { role: 'user', content: [{ type: 'text', text: 'and of France?' }] },
        ],
        stream: true,
        tools: [{ type: 'function' }],
      },
      'Paris.',
    );
    expect(r).toEqual({
      model: 'judge-model',
      messages: [
        { role: 'system', content: JUDGE_INSTRUCTION },
        {
          role: 'user',
          content:
            'Question:\nYou answer geography questions.\n\nand of France?\n\nAnswer:\nParis.\n\nScore (0.0-1.0):',
        },
      ],
      temperature: 0,
      max_tokens: 8,
      stream: false,
    });
    expect(JUDGE_INSTRUCTION).toContain('Rate answer quality 0.0-1.0');
  });

  it('bounds a long question and answer', () => {
    const long = 'x'.repeat(JUDGE_MAX_CHARS * 3);
    const r = judgeRequest('j', { model: 'auto', messages: [{ role: 'user', content: long }] }, long);
    const content = r.messages[1]!.content as string;
    expect(content.length).toBeLessThan(JUDGE_MAX_CHARS * 2 + 200);
    expect(content.match(/\[\.\.\. truncated\]/g)).toHaveLength(2);
  });
});

describe('parseJudgeScore', () => {
  it.each([
    ['0.7', 0.7],
    ['Score: 0.85', 0.85],
    ['1', 1],
    ['0', 0],
    ['.5', 0.5],
    ['1.0\n', 1],
  ])('reads %j as %d', (text, score) => {
    expect(parseJudgeScore(text)).toBe(score);
  });
  it.each(['7', '8/10', 'good answer', '', '-0.2', '1.5'])('cannot read %j', (text) => {
    expect(parseJudgeScore(text)).toBeUndefined();
  });
});

describe('judgeVerdict', () => {
  it('escalates below minScore only', () => {
    expect(judgeVerdict({ kind: 'reply', text: '0.3' }, 0.5)).toEqual({
      escalate: true,
      outcome: 'fail',
      score: 0.3,
    });
    expect(judgeVerdict({ kind: 'reply', text: '0.5' }, 0.5)).toEqual({
      escalate: false,
      outcome: 'pass',
      score: 0.5,
    });
  });
  it('passes the answer when the judge times out, fails or is unreadable, saying which', () => {
    expect(judgeVerdict({ kind: 'timeout' }, 0.5)).toEqual({ escalate: false, outcome: 'timeout' });
    expect(judgeVerdict({ kind: 'error' }, 0.5)).toEqual({ escalate: false, outcome: 'error' });
    expect(judgeVerdict({ kind: 'reply', text: 'great' }, 0.5)).toEqual({
      escalate: false,
      outcome: 'unreadable',
    });
  });
});
