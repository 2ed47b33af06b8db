"""Pure invoice maths (no I/O, no clock, Decimal inside, integer minor units outside).

    subscription_fee  the plan's fee for a (partial) period: prorated by days, trial days not billed
    charges           charge fees priced with `invora.pricing` from a period's usage snapshot
    coupons           applied coupons, oldest first, on the fees they may discount
    taxes             per fee exact, per rate per invoice rounded once (half-up)
    totals            fees → progressive deductions → coupons → taxes → credit notes → prepaid credits
    numbering         invoice numbers (`PREFIX-YYYYMM-NNNNN`, or per customer)
    compute           the whole invoice from its fee lines, coupons and tax rates
"""
