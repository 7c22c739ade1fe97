# Reference values from R's lme4/lmerTest/emmeans for the K-condition rating designs in data/ (designs.py).
#   Rscript tests/analysis/reference/conditions.R > tests/analysis/reference/conditions.csv
# (Debian: apt-get install r-cran-lmertest r-cran-emmeans.) Model: score ~ condition + (1|annotator) + (1|item),
# REML, treatment coding with "plain" as the reference level and the other levels sorted; BOBYQA with tolerances
# tightened to find the optimum to machine precision. One row a number, by table:
#   fit         REML criterion, variance components, isSingular
#   coefficient summary(fit, ddf = "Satterthwaite")
#   anova       anova(fit) (type III, Satterthwaite): the omnibus F test over conditions
#   contest     contest(fit, L) with L = [0 | I]: the same test from the coefficients
#   mean        emmeans(fit, ~ condition, lmer.df = "satterthwaite"), with 95% CI
#   contrast    contrast(means, "revpairwise", adjust = none / holm / tukey), t test and CI (emmeans uses
#               Bonferroni for the CI when Holm is asked for; Tukey uses each contrast's own df)
suppressPackageStartupMessages({
  library(lmerTest)
  library(emmeans)
})
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
control <- lmerControl(optimizer = "nloptwrap",
                       optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_abs = 1e-13, ftol_abs = 1e-15,
                                      xtol_rel = 0, ftol_rel = 0, maxeval = 100000))
emm_options(lmerTest.limit = Inf)  # emmeans turns the Satterthwaite df off above 3,000 rows otherwise
reference <- "plain"
rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- data.frame(...)
for (path in sort(Sys.glob(file.path(here, "data", "*.csv")))) {
  design <- sub("\\.csv$", "", basename(path))
  data <- read.csv(path)
  data$annotator <- factor(data$annotator)
  data$item <- factor(data$item)
  data$condition <- factor(data$condition, levels = c(reference, sort(setdiff(unique(data$condition), reference))))
  fit <- suppressMessages(suppressWarnings(lmer(score ~ condition + (1 | annotator) + (1 | item), data = data,
                                                REML = TRUE, control = control)))
  blank <- list(design = design, adjust = "", term = "", estimate = NA, se = NA, df = NA, numdf = NA,
                statistic = NA, p = NA, lower = NA, upper = NA)
  row <- function(...) do.call(add, modifyList(blank, list(...)))
  vc <- as.data.frame(VarCorr(fit))
  row(table = "fit", term = "deviance", estimate = REMLcrit(fit))
  for (g in c("annotator", "item", "Residual")) row(table = "fit", term = paste0("var_", tolower(g)),
                                                     estimate = vc$vcov[vc$grp == g])
  row(table = "fit", term = "singular", estimate = as.numeric(isSingular(fit)))
  coefs <- summary(fit, ddf = "Satterthwaite")$coefficients
  for (term in rownames(coefs)) row(table = "coefficient", term = term, estimate = coefs[term, "Estimate"],
                                    se = coefs[term, "Std. Error"], df = coefs[term, "df"],
                                    statistic = coefs[term, "t value"], p = coefs[term, "Pr(>|t|)"])
  a <- anova(fit, ddf = "Satterthwaite")
  row(table = "anova", term = "condition", df = a["condition", "DenDF"], numdf = a["condition", "NumDF"],
      statistic = a["condition", "F value"], p = a["condition", "Pr(>F)"])
  k <- nlevels(data$condition)
  L <- cbind(0, diag(k - 1))
  ct <- contest(fit, L, ddf = "Satterthwaite")
  row(table = "contest", term = "condition", df = ct$DenDF, numdf = ct$NumDF, statistic = ct[["F value"]],
      p = ct[["Pr(>F)"]])
  means <- emmeans(fit, ~ condition, lmer.df = "satterthwaite")
  m <- summary(means, level = 0.95)
  for (r in seq_len(nrow(m))) row(table = "mean", term = as.character(m$condition[r]), estimate = m$emmean[r],
                                  se = m$SE[r], df = m$df[r], lower = m$lower.CL[r], upper = m$upper.CL[r])
  for (adjust in c("none", "holm", "tukey")) {
    s <- summary(contrast(means, "revpairwise", adjust = adjust), infer = c(TRUE, TRUE), level = 0.95)
    for (r in seq_len(nrow(s))) row(table = "contrast", adjust = adjust, term = as.character(s$contrast[r]),
                                    estimate = s$estimate[r], se = s$SE[r], df = s$df[r], statistic = s$t.ratio[r],
                                    p = s$p.value[r], lower = s$lower.CL[r], upper = s$upper.CL[r])
  }
}
out <- do.call(rbind, rows)
out <- out[, c("design", "table", "adjust", "term", "estimate", "se", "df", "numdf", "statistic", "p", "lower",
               "upper")]
cat(sprintf("# %s; lme4 %s; lmerTest %s; emmeans %s\n", R.version.string, packageVersion("lme4"),
            packageVersion("lmerTest"), packageVersion("emmeans")))
write.csv(format(out, digits = 17), stdout(), row.names = FALSE, quote = FALSE, na = "")
