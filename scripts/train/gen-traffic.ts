/**
 * Generates examples/traffic.jsonl: a deterministic, realistic mix of chat traffic (greetings, FAQ,
 * classification, extraction, summaries, code, math and reasoning) for `tiermesh report`.
 *
 *   tsx scripts/train/gen-traffic.ts [--out examples/traffic.jsonl] [--n 400]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32 } from './rng.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(repoRoot, 'examples', 'traffic.jsonl') },
    n: { type: 'string', default: '400' },
  },
});
const rand = mulberry32(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const products = [
  'the Aurora desk lamp',
  'the TrailRunner 2 shoes',
  'the Nimbus backpack',
  'the Solo coffee grinder',
  'the Arc keyboard',
];
const cities = ['Lisbon', 'Toronto', 'Osaka', 'Nairobi', 'Krakow', 'Austin'];
const names = ['Maria Lopez', 'Ken Watanabe', 'Aisha Bello', 'Tomasz Nowak', 'Priya Raman', 'Liam Walsh'];
const langs = ['Python', 'TypeScript', 'Go', 'Rust', 'Java', 'SQL'];

const greetings = [
  'hi',
  'Hello!',
  'hey there',
  'good morning :)',
  'thanks, that worked',
  'thank you so much!',
  'ok great',
  'bye for now',
  'Hi, are you a bot?',
  'cheers',
];

const faq = () =>
  pick([
    `What are your opening hours in ${pick(cities)}?`,
    'How do I reset my password?',
    'Can I change my shipping address after ordering?',
    `Is ${pick(products)} covered by the warranty if it gets wet?`,
    'How long does a refund take to show on my card?',
    'Do you ship to Canada?',
    'Where can I download my invoice?',
    'How do I cancel my subscription?',
    `What is the return window for ${pick(products)}?`,
    'Can I pay with PayPal?',
  ]);

const reviews = [
  'Arrived two days late and the box was crushed, but the product itself works fine.',
  'Absolutely love it. Best purchase this year, my whole family uses it daily.',
  'Stopped working after a week. Support never answered my emails.',
  'It does what it says. Nothing special, nothing bad.',
  'The colour is different from the photos and the strap feels cheap.',
  'Setup took five minutes and the battery lasts forever. Recommended!',
];

const classification = () =>
  pick([
    `Classify the sentiment of this review as positive, negative or neutral. Reply with one word.\n\n"${pick(reviews)}"`,
    `Label this support ticket with one of: billing, shipping, technical, account, other.\n\nTicket: "${pick([
      'I was charged twice for my order last Tuesday.',
      'The app crashes whenever I open the settings page.',
      'My parcel tracking has not updated in six days.',
      'I cannot log in after changing my email address.',
    ])}"`,
    `Is the following message spam? Answer yes or no.\n\n"${pick([
      'Congratulations! You won a free cruise, click here to claim within 24h!!!',
      'Hi team, the meeting moved to 3pm, same room.',
      'URGENT: verify your bank account now or it will be closed',
    ])}"`,
    `Detect the language of: "${pick(['Où se trouve la gare la plus proche ?', 'Wie spät ist es?', '¿Cuánto cuesta el envío?', 'Dziękuję bardzo'])}"`,
  ]);

const extraction = () => {
  const who = pick(names);
  const total = (int(1000, 99999) / 100).toFixed(2);
  return pick([
    `Extract the invoice number, date and total as JSON from this text:\n\nInvoice INV-${int(10000, 99999)} issued ${int(1, 28)} March 2025 to ${who}. Amount due: EUR ${total}. Payment within 30 days.`,
    `Extract every email address and phone number from the following signature:\n\n${who}\nHead of Operations\n${who.split(' ')[0]!.toLowerCase()}@example.com | +1 555 ${int(100, 999)} ${int(1000, 9999)}`,
    `Pull out the city, check-in date and number of guests from: "Hi, I'd like a room in ${pick(cities)} from the ${int(1, 28)}th of June for ${int(1, 4)} adults, two nights."`,
    `Convert this address to JSON with street, city, postcode: ${int(1, 200)} Harbour Road, ${pick(cities)} ${int(10000, 99999)}`,
  ]);
};

const notes = () =>
  Array.from({ length: int(6, 14) }, () =>
    pick([
      'The team agreed to move the launch to the second week of the quarter because the payment integration is not finished.',
      'Marketing wants the new landing page live before the trade show, which means design must hand over assets by Friday.',
      'Support volume grew 18% after the last release, mostly password reset questions from mobile users.',
      'Finance flagged that cloud costs exceeded the budget for the third month in a row.',
      'Two candidates for the data engineer role are in final interviews; an offer is expected next week.',
      'The customer advisory board asked for an export to CSV and single sign-on with their identity provider.',
      'Legal reviewed the new terms of service and requested changes to the data retention section.',
      'QA found a regression in the checkout flow on older Android devices that blocks roughly 2% of orders.',
    ]),
  ).join(' ');

const summary = () =>
  pick([
    `Summarize these meeting notes in three bullet points:\n\n${notes()}`,
    `TL;DR this for an executive, two sentences max:\n\n${notes()}`,
    `Write a short summary of the following customer feedback, grouped by theme:\n\n${notes()}`,
  ]);

const code = () => {
  const lang = pick(langs);
  return pick([
    `Write a ${lang} function that removes duplicate entries from a list while keeping the original order, with unit tests.`,
    `Why does this throw "Cannot read properties of undefined"?\n\n\`\`\`ts\nconst users = await fetchUsers();\nconst names = users.data.map((u) => u.profile.name);\nconsole.log(names.join(', '));\n\`\`\`\nSometimes profile is missing. Fix it and explain.`,
    `Refactor this ${lang} code to avoid the N+1 query problem and explain the complexity before and after:\n\n\`\`\`\nfor order in orders:\n    customer = db.query("SELECT * FROM customers WHERE id = ?", order.customer_id)\n    print(customer.name, order.total)\n\`\`\``,
    `Write a SQL query that returns the top 5 customers by total order value in the last 90 days, including customers with refunds netted out.`,
    `Implement an LRU cache in ${lang} with O(1) get and put, and explain the design.`,
    `Debug this: my ${lang} service leaks memory under load; heap snapshots show thousands of timer objects retained by closures. What are the likely causes and how do I confirm each?`,
  ]);
};

const math = () => {
  const a = int(40, 120);
  const b = int(2, 9);
  return pick([
    `A train leaves at 9:40 and travels ${a} km at ${a / 2 + b} km/h, then stops for ${b * 5} minutes and continues ${b * 10} km at ${b * 12} km/h. When does it arrive? Show your reasoning step by step.`,
    `Prove that the sum of the first n odd numbers is n^2.`,
    `Solve for x: ${b}x^2 - ${a}x + ${b * 3} = 0. Give exact roots.`,
    `A shop sells a jacket for $${a}. It is discounted by ${b * 5}% and then a ${b}% sales tax is applied. What is the final price, and is it the same if the tax is applied first? Explain.`,
    `What is the probability of drawing two aces in a row from a standard 52-card deck without replacement?`,
    `Compute the derivative of f(x) = x^${b} * ln(x) and find where f is increasing.`,
  ]);
};

const reasoning = () =>
  pick([
    `Compare event sourcing and a classic CRUD design for an order management system with ${int(5, 50)} million orders a year. Discuss trade-offs in consistency, auditing, schema evolution and operational cost, then recommend one.`,
    `We run ${int(3, 12)} microservices on Kubernetes and p99 latency doubled after enabling mTLS. Design an investigation plan: what to measure, in what order, and the most likely root causes.`,
    `Analyze the pros and cons of raising our SaaS price by 15% versus introducing a usage-based tier, considering churn, expansion revenue and sales cycle length.`,
    `Critique this plan: migrate the monolith to microservices in one quarter by splitting along database tables. What will go wrong and what would you do instead?`,
  ]);

type Kind = 'greeting' | 'faq' | 'classification' | 'extraction' | 'summary' | 'code' | 'math' | 'reasoning';
const mix: [Kind, number][] = [
  ['greeting', 14],
  ['faq', 20],
  ['classification', 12],
  ['extraction', 12],
  ['summary', 12],
  ['code', 12],
  ['math', 10],
  ['reasoning', 8],
];
const totalWeight = mix.reduce((s, [, w]) => s + w, 0);
function kind(): Kind {
  let r = rand() * totalWeight;
  for (const [k, w] of mix) {
    r -= w;
    if (r < 0) return k;
  }
  return 'faq';
}

const system = 'You are the helpful assistant of an online shop and its engineering team.';
const completion: Record<Kind, [number, number]> = {
  greeting: [5, 30],
  faq: [40, 160],
  classification: [1, 10],
  extraction: [30, 120],
  summary: [60, 200],
  code: [200, 700],
  math: [120, 450],
  reasoning: [400, 900],
};
const task: Partial<Record<Kind, string>> = {
  classification: 'classification',
  extraction: 'extraction',
  summary: 'summarization',
};

const lines: string[] = [];
for (let i = 0; i < Number(values.n); i++) {
  const k = kind();
  const content =
    k === 'greeting'
      ? pick(greetings)
      : { faq, classification, extraction, summary, code, math, reasoning }[k]();
  const line: Record<string, unknown> = {
    model: 'auto',
    messages: [
      { role: 'system', content: system },
      { role: 'user', content },
    ],
    user: `user-${int(1, 25)}`,
  };
  // About half the callers tag their task; the rest rely on the classifier.
  if (task[k] && rand() < 0.5) line['task'] = task[k];
  if (k === 'extraction' && rand() < 0.5) line['response_format'] = { type: 'json_object' };
  const [lo, hi] = completion[k];
  if (rand() < 0.6)
    line['usage'] = {
      prompt_tokens: Math.ceil((system.length + content.length) / 4) + 8,
      completion_tokens: int(lo, hi),
    };
  else line['max_tokens'] = hi;
  lines.push(JSON.stringify(line));
}
writeFileSync(values.out!, `${lines.join('\n')}\n`);
process.stdout.write(`wrote ${lines.length} requests to ${values.out}\n`);
